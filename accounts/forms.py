from django import forms

from accounts.models import User


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["name"]
        labels = {"name": "Your name"}
        help_texts = {"name": "Shown to the other members of your workspaces."}
        widgets = {"name": forms.TextInput(attrs={"autocomplete": "name"})}
