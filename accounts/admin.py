"""Platform admin (/admin/) for users: approval of sign-ups, and allauth in front of the admin login."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.utils.translation import ngettext

from accounts.models import User
from accounts.services import user_approve

# The admin's own login form has no rate limit and no 2FA. Send it through allauth's
# login instead (rate limits, MFA, login by code); staff-only is still enforced.
admin.site.login = secure_admin_login(admin.site.login)


class UserCreateForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreateForm
    ordering = ["email"]
    list_display = ["email", "name", "is_approved", "is_active", "is_staff", "date_joined", "last_login"]
    list_filter = ["is_approved", "is_active", "is_staff", "is_superuser"]
    search_fields = ["email", "name"]
    readonly_fields = ["date_joined", "last_login"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name",)}),
        ("Status", {"fields": ("is_active", "is_approved", "is_staff", "is_superuser")}),
        ("Permissions", {"classes": ("collapse",), "fields": ("groups", "user_permissions")}),
        ("Dates", {"fields": ("date_joined", "last_login")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),)
    actions = ["approve_users"]

    @admin.action(description="Approve selected users (and email them)")
    def approve_users(self, request, queryset):
        approved = user_approve(users=queryset.filter(is_approved=False), approved_by=request.user, request=request)
        count = len(approved)
        self.message_user(
            request,
            ngettext("%d user approved.", "%d users approved.", count) % count,
            messages.SUCCESS,
        )
