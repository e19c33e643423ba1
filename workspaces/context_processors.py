from workspaces.models import Membership


def workspace_nav(request):
    """The signed-in user's workspaces, for the switcher in the navigation bar."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    memberships = Membership.objects.select_related("workspace").filter(user=user).order_by("workspace__name")
    return {"nav_memberships": list(memberships)}
