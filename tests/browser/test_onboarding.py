"""The whole onboarding, in a real browser: sign up, verify, create a workspace, invite a colleague who
joins with the right role, log in by magic link, turn on TOTP and log in with a code."""

import re
import time

import pyotp
import pytest
from django.core import mail

from workspaces.models import Membership, Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OWNER_EMAIL = "olivia@acme.test"
OWNER_PASSWORD = "orange-harbour-lantern-77"
ANALYST_EMAIL = "arjun@acme.test"
ANALYST_PASSWORD = "violet-canyon-breeze-31"


def _link(message, pattern: str) -> str:
    found = re.search(pattern, message.body)
    assert found, f"no link matching {pattern!r} in: {message.body}"
    return found.group(0)


def _last_mail_to(address: str):
    matching = [m for m in mail.outbox if address in m.to]
    assert matching, f"no email to {address}; outbox: {[m.to for m in mail.outbox]}"
    return matching[-1]


def test_onboarding_end_to_end(live_server, new_page, screenshot_dir):
    base = live_server.url
    owner = new_page()

    # 1. Sign up; the account stays unusable until the emailed link is followed.
    owner.goto(f"{base}/accounts/signup/")
    owner.fill("input[name=email]", OWNER_EMAIL)
    owner.fill("input[name=password1]", OWNER_PASSWORD)
    owner.fill("input[name=password2]", OWNER_PASSWORD)
    owner.screenshot(path=screenshot_dir / "01-signup.png", full_page=True)
    owner.click("form button[type=submit]")
    owner.wait_for_url(re.compile(r"/accounts/confirm-email/"))
    owner.screenshot(path=screenshot_dir / "02-verify-email-sent.png", full_page=True)
    confirm_url = _link(_last_mail_to(OWNER_EMAIL), r"https?://\S+/accounts/confirm-email/\S+/")
    owner.goto(confirm_url)
    owner.click("main form button[type=submit]")
    owner.wait_for_url(re.compile(r"/w/"))

    # 2. Create a workspace; its creator is its owner.
    owner.goto(f"{base}/w/new/")
    owner.fill("input[name=name]", "Acme Growth Team")
    owner.click("main form button[type=submit]")
    owner.wait_for_url(re.compile(r"/w/acme-growth-team/$"))
    assert "Acme Growth Team" in owner.inner_text("main")
    owner.screenshot(path=screenshot_dir / "03-workspace-created.png", full_page=True)

    # 3. Invite a colleague as analyst.
    owner.goto(f"{base}/w/acme-growth-team/invitations/")
    owner.fill("input[name=email]", ANALYST_EMAIL)
    owner.select_option("select[name=role]", Role.ANALYST.value)
    owner.click("main form button[type=submit]")
    owner.wait_for_selector(f"td:has-text('{ANALYST_EMAIL}')")
    owner.screenshot(path=screenshot_dir / "04-invitation-sent.png", full_page=True)
    invite_url = _link(_last_mail_to(ANALYST_EMAIL), r"https?://\S+/invitations/[A-Za-z0-9_\-]+/")

    # 4. The colleague opens the link in their own browser, creates an account, lands in the workspace.
    analyst = new_page()
    analyst.goto(invite_url)
    assert "Acme Growth Team" in analyst.inner_text("main")
    analyst.screenshot(path=screenshot_dir / "05-invitation-page.png", full_page=True)
    analyst.click("button:has-text('Create account')")
    analyst.wait_for_url(re.compile(r"/accounts/signup/"))
    assert analyst.input_value("input[name=email]") == ANALYST_EMAIL
    analyst.fill("input[name=password1]", ANALYST_PASSWORD)
    analyst.fill("input[name=password2]", ANALYST_PASSWORD)
    analyst.click("main form button[type=submit]")
    analyst.wait_for_url(re.compile(r"/w/acme-growth-team/"))
    analyst.goto(f"{base}/w/acme-growth-team/members/")
    assert analyst.locator(f"tr:has-text('{ANALYST_EMAIL}')").inner_text().count("Analyst") == 1
    analyst.screenshot(path=screenshot_dir / "06-analyst-joined.png", full_page=True)
    membership = Membership.objects.get(user__email=ANALYST_EMAIL, workspace__slug="acme-growth-team")
    assert membership.role == Role.ANALYST

    # 5. The owner signs out and back in by magic link, in the same browser that asked for it.
    owner.click("header form button:has-text('Sign out')")
    owner.wait_for_url(re.compile(r"/accounts/login/"))
    owner.goto(f"{base}/accounts/login/code/")
    owner.fill("input[name=email]", OWNER_EMAIL)
    owner.click("main form button[type=submit]")
    owner.wait_for_url(re.compile(r"/accounts/login/code/confirm/"))
    code_mail = _last_mail_to(OWNER_EMAIL)
    magic_link = _link(code_mail, r"https?://\S+/accounts/login/code/link/\?code=\S+")
    owner.goto(magic_link)
    owner.wait_for_url(re.compile(r"/w/acme-growth-team/"))
    assert OWNER_EMAIL not in owner.url
    owner.screenshot(path=screenshot_dir / "07-magic-link-signed-in.png", full_page=True)

    # 6. Turn on TOTP, then sign in with password + a code from the authenticator.
    owner.goto(f"{base}/accounts/2fa/totp/activate/")
    # allauth asks for the password again before a security change (a sign-in code is not enough).
    owner.wait_for_url(re.compile(r"/accounts/reauthenticate/"))
    owner.fill("input[name=password]", OWNER_PASSWORD)
    owner.click("main form button[type=submit]")
    owner.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/"))
    owner.screenshot(path=screenshot_dir / "08-totp-activate.png", full_page=True)
    secret = owner.input_value("#authenticator_secret")
    totp = pyotp.TOTP(secret)
    owner.fill("input[name=code]", totp.now())
    owner.click("main form button[type=submit]")
    owner.wait_for_url(re.compile(r"/accounts/2fa/"))
    owner.click("header form button:has-text('Sign out')")
    owner.wait_for_url(re.compile(r"/accounts/login/"))
    owner.fill("input[name=login]", OWNER_EMAIL)
    owner.fill("input[name=password]", OWNER_PASSWORD)
    owner.click("main form button[type=submit]")
    owner.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
    owner.screenshot(path=screenshot_dir / "09-totp-prompt.png", full_page=True)
    # The next period's code: the activation code may not be used twice, and tolerance accepts +1.
    owner.fill("input[name=code]", totp.at(time.time() + 30))
    owner.click("main form button[type=submit]")
    owner.wait_for_url(re.compile(r"/w/acme-growth-team/"))
    owner.screenshot(path=screenshot_dir / "10-signed-in-with-totp.png", full_page=True)
    assert "Acme Growth Team" in owner.inner_text("main")
