from workspaces.models import Membership


def workspace_nav(request):
    """The signed-in user's workspaces (for the switcher) and the workspace the page is in, if any.

    `current_membership` is set by `workspace_view` / `WorkspaceMixin` after the access check,
    so later apps' pages get the sidebar without passing anything extra.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    memberships = Membership.objects.select_related("workspace").filter(user=user).order_by("workspace__name")
    current = getattr(request, "workspace_membership", None)
    context = {"nav_memberships": list(memberships), "current_membership": current}
    if current is not None:
        context["current_workspace"] = current.workspace
    return context
