"""Two admin sites for workspaces.

- `owner_admin_site` (/owner/): for workspace owners, who are NOT staff. Access is "owns at least
  one workspace", and every ModelAdmin here is scoped to the workspaces the user owns, with
  explicit has_*_permission methods instead of Django model permissions. Saves go through
  services.py so the last-owner and invitation rules hold here too. Other apps register their
  owner-facing ModelAdmins on this site by subclassing `OwnerScopedAdmin`.
- Django's default `admin.site` (/admin/): the platform operator (superusers), all workspaces.
"""

from allauth.account.utils import get_next_redirect_url
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import path, reverse

from accounts.selectors import user_has_totp
from workspaces import services
from workspaces.models import Invitation, InvitationEmail, Membership, Workspace
from workspaces.selectors import workspace_list_owned_for_admin


class OwnerAdminSite(admin.AdminSite):
    site_header = "Workspace administration"
    site_title = "Owner admin"
    index_title = "Your workspaces"
    site_url = "/w/"

    def has_permission(self, request: HttpRequest) -> bool:
        """An active user who owns at least one workspace; is_staff plays no part."""
        return workspace_list_owned_for_admin(user=request.user).exists()

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        """Sign-in happens in allauth (with its rate limits and 2FA), never in Django's admin form."""
        if request.user.is_authenticated:
            # Signed in but owns nothing: sending them to the login page would loop.
            raise PermissionDenied
        next_url = get_next_redirect_url(request) or reverse("owner_admin:index")
        return redirect_to_login(next_url, login_url=reverse("account_login"))

    def logout(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        return redirect("account_logout")

    def password_change(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        return redirect("account_change_password")

    def get_urls(self):
        # Django's "view on site" redirect (contenttypes.views.shortcut) resolves ANY object of any
        # model and redirects to its URL: for another tenant's workspace that reveals its slug.
        # Keep the route name (admin templates reverse it) but scope it like everything else here.
        urls = [u for u in super().get_urls() if getattr(u, "name", None) != "view_on_site"]
        urls.insert(
            0,
            path(
                "r/<path:content_type_id>/<path:object_id>/",
                self.admin_view(self.view_on_site),
                name="view_on_site",
            ),
        )
        return urls

    def view_on_site(self, request: HttpRequest, content_type_id: str, object_id: str) -> HttpResponse:
        content_type = ContentType.objects.filter(pk=content_type_id).first() if content_type_id.isdigit() else None
        model = content_type.model_class() if content_type else None
        model_admin = self._registry.get(model)
        if model_admin is None:
            raise Http404
        obj = model_admin.get_object(request, object_id)  # scoped through get_queryset
        if obj is None or not hasattr(obj, "get_absolute_url"):
            raise Http404
        return redirect(obj.get_absolute_url())


owner_admin_site = OwnerAdminSite(name="owner_admin")


def _owned(request: HttpRequest) -> QuerySet[Workspace]:
    return workspace_list_owned_for_admin(user=request.user)


class OwnerScopedAdmin(admin.ModelAdmin):
    """Base for every ModelAdmin on `owner_admin_site`.

    Rows are limited to the workspaces the user owns (through `workspace_field`); the permission
    methods ignore Django's model permissions, which owners don't have.
    """

    workspace_field = "workspace"
    owner_can_add = False
    owner_can_change = False
    owner_can_delete = False

    def scope(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(**{f"{self.workspace_field}__in": _owned(request)})

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return self.scope(request, super().get_queryset(request))

    def _obj_in_scope(self, request: HttpRequest, obj) -> bool:
        return obj is None or self.scope(request, type(obj)._default_manager.filter(pk=obj.pk)).exists()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.admin_site.has_permission(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.admin_site.has_permission(request) and self._obj_in_scope(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.owner_can_add and self.admin_site.has_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.owner_can_change and self.has_view_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.owner_can_delete and self.has_view_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.related_model is Workspace:
            kwargs["queryset"] = _owned(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        # Defence in depth: the form's choices are scoped already, but never save outside the scope.
        if not self._obj_in_scope(request, obj) and change:
            raise PermissionDenied
        super().save_model(request, obj, form, change)


# --- workspace settings ------------------------------------------------------------------------


class WorkspaceOwnerForm(forms.ModelForm):
    class Meta:
        model = Workspace
        fields = ["name", "require_2fa"]

    def clean(self):
        cleaned = super().clean()
        # Run the service rules here so a refusal shows on the form instead of a 500.
        turning_on = cleaned.get("require_2fa") and not self.initial.get("require_2fa")
        if turning_on and not user_has_totp(self.actor):
            self.add_error("require_2fa", services.ERROR_ENABLE_2FA_FIRST)
        return cleaned


@admin.register(Workspace, site=owner_admin_site)
class WorkspaceOwnerAdmin(OwnerScopedAdmin):
    """Settings of the workspaces the user owns. Creating and deleting happen under /w/."""

    form = WorkspaceOwnerForm
    owner_can_change = True
    list_display = ["name", "slug", "require_2fa"]
    readonly_fields = ["slug"]
    fields = ["name", "slug", "require_2fa"]

    def scope(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(pk__in=_owned(request))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        form_class.actor = request.user
        return form_class

    def save_model(self, request, obj, form, change):
        if not change or not self._obj_in_scope(request, obj):
            raise PermissionDenied
        # `obj` already carries the form's values; reload so the services see the stored state.
        stored = Workspace.objects.get(pk=obj.pk)
        services.workspace_rename(workspace=stored, actor=request.user, name=obj.name, request=request)
        services.workspace_update_settings(
            workspace=stored, actor=request.user, require_2fa=obj.require_2fa, request=request
        )


# --- memberships -------------------------------------------------------------------------------


class MembershipOwnerForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["role"]

    def clean_role(self):
        role = self.cleaned_data["role"]
        stored = Membership.objects.get(pk=self.instance.pk)
        try:
            services.membership_change_role_check(membership=stored, actor=self.actor, role=role)
        except ValidationError as error:
            raise forms.ValidationError(error.messages)
        return role


@admin.register(Membership, site=owner_admin_site)
class MembershipOwnerAdmin(OwnerScopedAdmin):
    """Members of the owned workspaces: change roles and remove members (people join by invitation)."""

    form = MembershipOwnerForm
    owner_can_change = True
    owner_can_delete = True
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "user__name"]
    fields = ["user", "workspace", "role"]
    readonly_fields = ["user", "workspace"]
    actions = ["remove_selected"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "workspace")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        form_class.actor = request.user
        return form_class

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Django's bulk delete would bypass the last-owner rule; our action goes through the service.
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        if not change or not self._obj_in_scope(request, obj):
            raise PermissionDenied
        stored = Membership.objects.select_related("workspace", "user").get(pk=obj.pk)
        services.membership_change_role(membership=stored, actor=request.user, role=obj.role, request=request)

    def delete_view(self, request, object_id, extra_context=None):
        membership = self.get_object(request, object_id)
        if membership is not None:
            try:
                services.membership_remove_check(membership=membership, actor=request.user)
            except ValidationError as error:
                self.message_user(request, error.messages[0], messages.ERROR)
                return HttpResponseRedirect(reverse("owner_admin:workspaces_membership_changelist"))
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        services.membership_remove(membership=obj, actor=request.user, request=request)

    @admin.action(description="Remove selected members", permissions=["delete"])
    def remove_selected(self, request, queryset):
        removed = 0
        for membership in queryset.select_related("user", "workspace"):
            try:
                services.membership_remove(membership=membership, actor=request.user, request=request)
            except ValidationError as error:
                self.message_user(request, f"{membership.user.email}: {error.messages[0]}", messages.ERROR)
            else:
                removed += 1
        if removed:
            self.message_user(request, f"Removed {removed} member(s).", messages.SUCCESS)


# --- invitations -------------------------------------------------------------------------------


class InvitationOwnerForm(forms.ModelForm):
    """Only the add form exists: an invitation is never edited, it is revoked or re-sent."""

    class Meta:
        model = Invitation
        fields = ["workspace", "email", "role"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            cleaned["email"] = services.invitation_send_check(
                workspace=cleaned["workspace"], inviter=self.actor, email=cleaned["email"], role=cleaned["role"]
            )
        except ValidationError as error:
            raise forms.ValidationError(error.messages)
        return cleaned


@admin.register(Invitation, site=owner_admin_site)
class InvitationOwnerAdmin(OwnerScopedAdmin):
    form = InvitationOwnerForm
    owner_can_add = True
    list_display = ["email", "workspace", "role", "status", "invited_by", "expires_at", "sent_count"]
    list_filter = ["role"]
    search_fields = ["email"]
    # The token hash is not shown to owners at all; the link only ever exists in the email.
    fields = ["workspace", "email", "role"]
    readonly_fields: list[str] = []
    actions = ["revoke_selected", "resend_selected"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("workspace", "invited_by")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ["workspace", "email", "role", "status", "invited_by", "expires_at", "accepted_at", "sent_count"]
        return []

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj) or self.fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        form_class.actor = request.user
        return form_class

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        invitation = services.invitation_send(
            workspace=form.cleaned_data["workspace"],
            inviter=request.user,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            request=request,
        )
        # The admin's "added" message and redirect read the object it passed in.
        obj.pk = invitation.pk
        obj.token_hash = invitation.token_hash
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        """Nothing related to save; ModelForm.save_m2m would otherwise not exist (no form.save())."""

    def _run(self, request, queryset, service, done: str) -> None:
        count = 0
        for invitation in queryset.select_related("workspace"):
            try:
                service(invitation=invitation, actor=request.user, request=request)
            except ValidationError as error:
                self.message_user(request, f"{invitation.email}: {error.messages[0]}", messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(request, done.format(count=count), messages.SUCCESS)

    @admin.action(description="Revoke selected invitations")
    def revoke_selected(self, request, queryset):
        self._run(request, queryset, services.invitation_revoke, "Revoked {count} invitation(s).")

    @admin.action(description="Re-send selected invitations (new link; the old one stops working)")
    def resend_selected(self, request, queryset):
        self._run(request, queryset, services.invitation_resend, "Re-sent {count} invitation(s).")


# --- platform admin (/admin/, superusers) ------------------------------------------------------


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "require_2fa", "created_by", "created_at"]
    search_fields = ["name", "slug"]
    list_filter = ["require_2fa"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "is_default", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "workspace__name", "workspace__slug"]
    raw_id_fields = ["user", "workspace"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "workspace", "role", "status", "invited_by", "expires_at", "sent_count"]
    list_filter = ["role"]
    search_fields = ["email", "workspace__name"]
    readonly_fields = ["token_hash", "sent_count", "created_at", "updated_at"]
    raw_id_fields = ["workspace", "invited_by", "accepted_by"]


@admin.register(InvitationEmail)
class InvitationEmailAdmin(admin.ModelAdmin):
    list_display = ["invitation", "workspace", "sent_at"]
    readonly_fields = ["invitation", "workspace", "sent_at"]
