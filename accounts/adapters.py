from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        user.is_approved = not settings.ACCOUNT_REQUIRE_APPROVAL
        if commit:
            user.save()
        return user
