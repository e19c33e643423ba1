from urllib.parse import urlencode

from allauth.account.adapter import DefaultAccountAdapter
from allauth.utils import build_absolute_uri
from django.conf import settings
from django.urls import reverse

LOGIN_CODE_EMAIL = "account/email/login_code"


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        # Read at call time (not import time) so tests can flip the setting.
        user.is_approved = not settings.ACCOUNT_REQUIRE_APPROVAL
        if commit:
            user.save()
        return user

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        if template_prefix == LOGIN_CODE_EMAIL and context.get("code"):
            # The "magic link" next to the code. It carries only the code: the pending
            # login lives in the session of the browser that asked for it, so the link
            # signs in nobody when it is opened anywhere else.
            context = {**context, "login_link_url": self.login_code_link_url(context)}
        super().send_mail(template_prefix, email, context)

    def login_code_link_url(self, context: dict) -> str:
        params = {"code": context["code"]}
        if context.get("reauthentication"):
            params["reauth"] = "1"
        location = f"{reverse('accounts:login_code_link')}?{urlencode(params)}"
        return build_absolute_uri(context.get("request"), location)
