"""Input shape and cleaning only. Rules live in services.py.

Each form declares exactly the fields a view may change, so extra POSTed fields
(`role=owner`, `workspace=...`, `is_staff=1`) are ignored (SECURITY.md T-ROLE-02).
"""

from django import forms

from workspaces.models import Role, Workspace


class WorkspaceCreateForm(forms.Form):
    name = forms.CharField(max_length=Workspace._meta.get_field("name").max_length, strip=True)


class WorkspaceSettingsForm(forms.Form):
    name = forms.CharField(max_length=Workspace._meta.get_field("name").max_length, strip=True)
    require_2fa = forms.BooleanField(
        required=False,
        label=Workspace._meta.get_field("require_2fa").verbose_name.capitalize(),
        help_text=Workspace._meta.get_field("require_2fa").help_text,
    )


class WorkspaceDeleteForm(forms.Form):
    confirm_name = forms.CharField(label="Workspace name", max_length=200, strip=False)


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InvitationForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()
