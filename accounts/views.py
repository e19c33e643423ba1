from allauth.account.models import EmailAddress
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.forms import ProfileForm
from accounts.selectors import login_code_pending, user_has_totp
from accounts.services import user_update_profile

PROFILE_SAVED = "Your profile has been saved."
LOGIN_LINK_OTHER_BROWSER = (
    "This sign-in link only works in the browser where you asked for the code. "
    "Open it there, or type the code into that browser's sign-in page."
)
# Sign-in codes are short; anything longer is not a code and is not echoed back.
LOGIN_CODE_MAX_LENGTH = 32


@login_required
def awaiting_approval(request: HttpRequest) -> HttpResponse:
    if request.user.is_approved:
        return redirect("home")
    return render(request, "accounts/awaiting_approval.html")


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        user_update_profile(user=request.user, name=form.cleaned_data["name"])
        messages.success(request, PROFILE_SAVED)
        return redirect("accounts:profile")
    context = {
        "form": form,
        "email_addresses": EmailAddress.objects.filter(user=request.user).order_by("-primary", "email"),
        "has_totp": user_has_totp(request.user),
    }
    return render(request, "accounts/profile.html", context)


@never_cache
@require_GET
def login_code_link(request: HttpRequest) -> HttpResponse:
    """The one-click link in the sign-in code email.

    It does not check the code itself (that would let a link scanner burn attempts);
    it renders allauth's confirm form with the code filled in, which static/js/login-code-link.js
    submits. allauth then checks it against the login pending in *this* session:
    single use, expiry and the attempt limit all stay allauth's. Opened in another
    browser, there is no pending login, so the page says so and offers nothing to submit.
    """
    code = request.GET.get("code", "").strip()[:LOGIN_CODE_MAX_LENGTH]
    reauthentication = request.GET.get("reauth") == "1"
    if reauthentication:
        if not request.user.is_authenticated:
            return redirect("account_login")
        action_url, pending = reverse("account_confirm_reauthentication_code"), True
    else:
        if request.user.is_authenticated:
            return redirect("home")
        action_url, pending = reverse("account_confirm_login_code"), login_code_pending(request)
    if not code:
        return redirect(action_url)
    context = {
        "code": code,
        "action_url": action_url,
        "pending": pending,
        "reauthentication": reauthentication,
        "other_browser_message": LOGIN_LINK_OTHER_BROWSER,
    }
    return render(request, "accounts/login_code_link.html", context)
