"""Input shape and cleaning for the datasets pages. Workflows live in datasets.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.text import get_valid_filename

from datasets import selectors
from datasets.ingest import types as ingest_types
from datasets.models import Dataset, Kind, UploadMode
from workspaces.models import Workspace

ERROR_DATASET_REQUIRED = "Choose the dataset to add this file to."
ERROR_FIELD_NOT_IN_KIND = "“{field}” is not a field of {kind} data."
ERROR_FIELD_TWICE = "“{field}” is chosen for more than one column."
ERROR_NO_FILE = "Choose a file to upload."
ERROR_FILE_TOO_LARGE_FOR_FORM = (
    "This file is too large for the simple form ({limit}). Use the uploader with JavaScript enabled: it sends big "
    "files in pieces and resumes after a dropped connection."
)

DETECT = ""
KIND_CHOICES = [(DETECT, "Detect automatically"), *Kind.choices]
ENCODING_CHOICES = [
    (DETECT, "Detect automatically"),
    ("utf-8", "UTF-8"),
    ("utf-16", "UTF-16"),
    ("cp1252", "Windows-1252 (Western Europe)"),
    ("latin-1", "ISO-8859-1 (Latin-1)"),
    ("iso-8859-15", "ISO-8859-15 (Latin-9)"),
    ("cp1250", "Windows-1250 (Central Europe)"),
    ("mac_roman", "Mac Roman"),
    ("shift_jis", "Shift JIS"),
    ("gb18030", "GB 18030"),
    ("big5", "Big5"),
]
# Keys are what the form sends; values are the delimiter character the engine gets.
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|", "colon": ":", "space": " "}
DELIMITER_CHOICES = [
    (DETECT, "Detect automatically"),
    ("comma", "Comma ( , )"),
    ("semicolon", "Semicolon ( ; )"),
    ("tab", "Tab"),
    ("pipe", "Pipe ( | )"),
    ("colon", "Colon ( : )"),
    ("space", "Space"),
]
HEADER_CHOICES = [(DETECT, "Detect automatically"), ("yes", "The first row is a header"), ("no", "No header row")]
DATE_ORDER_CHOICES = [
    ("auto", "Detect (month first when ambiguous)"),
    ("mdy", "Month first (03/04 = March 4)"),
    ("dmy", "Day first (03/04 = 3 April)"),
]
MODE_CHOICES = [
    (UploadMode.NEW, "Create a new dataset"),
    (UploadMode.REPLACE, "Replace an existing dataset (a new version)"),
    (UploadMode.APPEND, "Append rows to an existing dataset (a new version)"),
]
TYPE_CHOICES = [(t, selectors.type_label(t)) for t in ingest_types.TYPES]


def _delimiter_key(value: str | None) -> str:
    return next((key for key, char in DELIMITERS.items() if char == value), DETECT)


class IngestOptionsForm(forms.Form):
    """The overrides the engine accepts (IngestOptions). Blank means: detect."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")  # "Encoding", not "Encoding:"
        super().__init__(*args, **kwargs)

    encoding = forms.ChoiceField(choices=ENCODING_CHOICES, required=False)
    delimiter = forms.ChoiceField(choices=DELIMITER_CHOICES, required=False)
    has_header = forms.ChoiceField(choices=HEADER_CHOICES, required=False, label="Header row")
    date_order = forms.ChoiceField(choices=DATE_ORDER_CHOICES, required=False, initial="auto", label="Dates")
    keep_duplicates = forms.BooleanField(
        required=False, label="Keep exact duplicate rows", help_text="By default identical rows are loaded once."
    )

    def ingest_options(self) -> dict[str, Any]:
        """Only what the user chose: the services store it on the upload and hand it to the engine."""
        data = self.cleaned_data
        options: dict[str, Any] = {}
        if data.get("encoding"):
            options["encoding"] = data["encoding"]
        if data.get("delimiter"):
            options["delimiter"] = DELIMITERS[data["delimiter"]]
        if data.get("has_header"):
            options["has_header"] = data["has_header"] == "yes"
        if data.get("date_order") and data["date_order"] != "auto":
            options["date_order"] = data["date_order"]
        if data.get("keep_duplicates"):
            options["keep_duplicates"] = True
        return options

    @staticmethod
    def initial_from(options: dict | None) -> dict[str, Any]:
        options = options or {}
        has_header = options.get("has_header")
        return {
            "encoding": options.get("encoding") or DETECT,
            "delimiter": _delimiter_key(options.get("delimiter")),
            "has_header": DETECT if has_header is None else ("yes" if has_header else "no"),
            "date_order": options.get("date_order") or "auto",
            "keep_duplicates": bool(options.get("keep_duplicates")),
        }


class UploadSettingsForm(IngestOptionsForm):
    """What to do with a file: its kind, and a new dataset or a new version of an existing one."""

    kind = forms.ChoiceField(choices=KIND_CHOICES, required=False, label="Kind of data")
    mode = forms.ChoiceField(choices=MODE_CHOICES, initial=UploadMode.NEW, widget=forms.RadioSelect)
    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.none(), required=False, empty_label="Choose a dataset…", label="Dataset"
    )
    dataset_name = forms.CharField(
        max_length=200, required=False, label="Dataset name", help_text="Leave blank to use the file name."
    )

    field_order = ["kind", "mode", "dataset", "dataset_name"]

    def __init__(self, *args, workspace: Workspace, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only this workspace's datasets can be chosen (a foreign id is "not one of the choices").
        self.fields["dataset"].queryset = selectors.dataset_list(workspace=workspace)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("mode") in (UploadMode.REPLACE, UploadMode.APPEND) and not data.get("dataset"):
            self.add_error("dataset", ERROR_DATASET_REQUIRED)
        if data.get("mode") == UploadMode.NEW:
            data["dataset"] = None
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "kind": data.get("kind") or "",
            "mode": data["mode"],
            "dataset": data.get("dataset"),
            "dataset_name": (data.get("dataset_name") or "").strip(),
            "options": self.ingest_options(),
        }


class UploadForm(UploadSettingsForm):
    """The upload page. With JavaScript the file goes up in chunks; without, this form posts it whole."""

    file = forms.FileField(required=False, label="File")

    field_order = ["file", *UploadSettingsForm.field_order]

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload is None:
            raise forms.ValidationError(ERROR_NO_FILE)
        limit = selectors.small_upload_bytes()
        if upload.size > limit:
            from django.template.defaultfilters import filesizeformat

            raise forms.ValidationError(ERROR_FILE_TOO_LARGE_FOR_FORM.format(limit=filesizeformat(limit)))
        return upload


class UploadStartForm(UploadSettingsForm):
    """The JSON body of POST uploads/start/ (the chunked uploader)."""

    name = forms.CharField(max_length=1000)
    size = forms.IntegerField(min_value=1)
    fingerprint = forms.CharField(max_length=200, required=False)

    def clean_name(self) -> str:
        # A display label only (storage keys are server-made); keep it printable and short.
        name = "".join(ch for ch in self.cleaned_data["name"] if ch.isprintable()).strip()
        return name[-255:] or get_valid_filename("upload")


class MappingForm(IngestOptionsForm):
    """The review page: the kind, then a field and a type per sniffed column.

    Column fields are named by position (`col_3_field`), never by the column's name, which is
    user data. `mapping()` gives {column name: {"field", "type"}} for upload_confirm_mapping.
    """

    kind = forms.ChoiceField(choices=Kind.choices, label="Kind of data")

    def __init__(self, *args, columns: list[selectors.ReviewColumn], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.columns = columns
        all_fields = sorted({name for names in selectors.kind_field_choices_all().values() for name in names})
        base_choices = [
            (selectors.CUSTOM_FIELD, "Keep as a custom attribute"),
            (selectors.IGNORE_FIELD, "Ignore this column"),
        ]
        # Any kind's field validates (clean() then checks it against the chosen kind); the select
        # shows only the fields of the kind on screen (static/js/datasets-mapping.js swaps them).
        shown_kind = self.data.get("kind") if self.is_bound else self.initial.get("kind")
        shown_fields = selectors.kind_field_choices(shown_kind) if shown_kind in Kind.values else all_fields
        for column in columns:
            field = forms.ChoiceField(
                choices=[*base_choices, *[(name, selectors.field_label(name)) for name in all_fields]],
                required=False,
                initial=column.field,
                label=f"Field for {column.name}",
            )
            field.widget.choices = [*base_choices, *[(name, selectors.field_label(name)) for name in shown_fields]]
            self.fields[f"col_{column.index}_field"] = field
            self.fields[f"col_{column.index}_type"] = forms.ChoiceField(
                choices=TYPE_CHOICES, initial=column.type, label=f"Type of {column.name}"
            )

    def column_rows(self) -> list[tuple[selectors.ReviewColumn, forms.BoundField, forms.BoundField]]:
        return [(c, self[f"col_{c.index}_field"], self[f"col_{c.index}_type"]) for c in self.columns]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        if not kind:
            return data
        allowed = set(selectors.kind_field_choices(kind))
        seen: dict[str, str] = {}
        for column in self.columns:
            key = f"col_{column.index}_field"
            chosen = data.get(key) or selectors.CUSTOM_FIELD
            if chosen in (selectors.CUSTOM_FIELD, selectors.IGNORE_FIELD):
                continue
            if chosen not in allowed:
                self.add_error(key, ERROR_FIELD_NOT_IN_KIND.format(field=chosen, kind=Kind(kind).label.lower()))
            elif chosen in seen:
                self.add_error(key, ERROR_FIELD_TWICE.format(field=chosen))
            seen.setdefault(chosen, column.name)
        return data

    def mapping(self) -> dict[str, dict[str, str]]:
        data = self.cleaned_data
        return {
            column.name: {
                "field": data.get(f"col_{column.index}_field") or selectors.CUSTOM_FIELD,
                "type": data[f"col_{column.index}_type"],
            }
            for column in self.columns
        }


# How the file is read into columns: fixed for a re-map (the mapping names those columns).
READ_FIELDS = ("encoding", "delimiter", "has_header")


class RemapForm(MappingForm):
    """The re-map page: the review form over the current version's columns, minus the read options."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in READ_FIELDS:
            del self.fields[name]


class DatasetRenameForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name")

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()
