"""Audit events that only the request/response cycle can see."""

import logging

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse

from audit.selectors import audit_user_for_login
from audit.services import audit_record
from workspaces.models import Membership

logger = logging.getLogger(__name__)

# Where a denial is worth a row: the tenant pages and the owner admin (SECURITY.md T-IDOR-01, ASVS 16.3.2).
AUDITED_PREFIXES = ("/w/", "/owner/")
WORKSPACE_PREFIX = "/w/"
_MAX_PATH = 500
_MAX_SLUG = 100


def _workspace_slug(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is not None and match.kwargs.get("workspace_slug"):
        return str(match.kwargs["workspace_slug"])[:_MAX_SLUG]
    if request.path.startswith(WORKSPACE_PREFIX):
        return request.path[len(WORKSPACE_PREFIX) :].split("/", 1)[0][:_MAX_SLUG]
    return ""


class DeniedAccessAuditMiddleware:
    """Record "access.denied" for every Http404 / PermissionDenied a view raises under /w/ or /owner/.

    process_exception runs after ATOMIC_REQUESTS has rolled the view's transaction back, so the
    row is written in its own transaction and survives. The event lands in the workspace's chain
    only when the user is a member of the workspace the URL names (a 403, or a 404 for an object
    inside their own workspace), so its owners see it; a non-member's 404 goes to the account
    chain with the slug in `details`, which tells B's owners nothing about who probed them.
    Returns None: Django's own 404/403 handling answers the request as before.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if not isinstance(exception, Http404 | PermissionDenied):
            return None
        if not request.path.startswith(AUDITED_PREFIXES):
            return None
        try:
            self._record(request, status=404 if isinstance(exception, Http404) else 403)
        except DatabaseError:
            # The denial itself must still be answered with 403/404, not with a 500.
            logger.exception("could not write the access.denied audit event for %s", request.path[:_MAX_PATH])
        return None

    def _record(self, request: HttpRequest, *, status: int) -> None:
        user = getattr(request, "user", None)
        slug = _workspace_slug(request)
        membership = None
        if slug and user is not None and user.is_authenticated:
            membership = Membership.objects.select_related("workspace").filter(user=user, workspace__slug=slug).first()
        match = getattr(request, "resolver_match", None)
        details = {"path": request.path[:_MAX_PATH], "method": request.method, "status": status}
        if slug:
            details["workspace_slug"] = slug
        if match is not None and match.view_name:
            details["view"] = match.view_name
        audit_record(
            action="access.denied",
            actor=user,
            workspace=membership.workspace if membership is not None else None,
            details=details,
            request=request,
        )


class LoginCodeRequestAuditMiddleware:
    """Record "account.login_code_requested": allauth sends no signal when a sign-in code is asked for.

    A valid request form answers with a redirect to the code entry page (for unknown addresses
    too, since ACCOUNT_PREVENT_ENUMERATION), so a POST to that URL answered with a redirect is
    the event. The address typed is kept; the code never is.
    """

    URL_NAME = "account_request_login_code"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if (
            request.method == "POST"
            and match is not None
            and match.url_name == self.URL_NAME
            and response.status_code in (301, 302, 303)
        ):
            email = request.POST.get("email", "")[:254]
            target = audit_user_for_login(login=email)
            audit_record(
                action="account.login_code_requested", target=target, details={"email": email}, request=request
            )
        return response
