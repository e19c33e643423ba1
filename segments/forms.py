"""Input shapes for segments and saved filter sets (cleaning only; the rules live in services)."""

from django import forms

from segments.models import NAME_MAX_LENGTH, FilterSetKind

QUERY_MAX_LENGTH = 8000


class SegmentForm(forms.Form):
    """Name, description and the filter query string of the builder's current state."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    name = forms.CharField(max_length=NAME_MAX_LENGTH, label="Name")
    description = forms.CharField(
        required=False, max_length=2000, label="Description", widget=forms.Textarea(attrs={"rows": 3})
    )
    query = forms.CharField(required=False, max_length=QUERY_MAX_LENGTH, widget=forms.HiddenInput)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the segment a name.")
        return name


class FilterSetForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX_LENGTH)
    kind = forms.ChoiceField(choices=FilterSetKind.choices)
    query = forms.CharField(required=False, max_length=QUERY_MAX_LENGTH)
    dataset = forms.CharField(required=False, max_length=20)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the filters a name.")
        return name
