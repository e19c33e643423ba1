"""`manage.py ingest PATH --workspace SLUG [--kind KIND] [--name NAME] [--sync] [--json]`.

The same pipeline as the upload page: by default the file is stored and queued for the workers
and the upload id printed; --sync claims and runs it in this process (no broker needed) and
prints the final status and receipt. Exits non-zero when the upload does not end READY (or,
without --sync, when it could not be stored).
"""

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from datasets.models import Dataset, Kind, Upload, UploadMode, UploadStatus
from datasets.services import upload_from_path, upload_process
from workspaces.models import Membership, Role, Workspace


def receipt_summary(upload: Upload) -> dict:
    """The one JSON object --json prints (also used by the demo seed's output)."""
    receipt = upload.receipt or {}
    sniff = upload.sniff or {}
    source = receipt or sniff
    return {
        "upload_id": upload.pk,
        "status": upload.status,
        "error_code": upload.error_code,
        "error": upload.error_message,
        "dataset_id": upload.dataset_id,
        "version": upload.version.number if upload.version_id else None,
        "kind": receipt.get("kind") or upload.kind or sniff.get("kind", ""),
        "rows_read": receipt.get("rows_read"),
        "rows_loaded": receipt.get("rows_loaded"),
        "rows_rejected": receipt.get("rows_rejected"),
        "duplicates": receipt.get("duplicates_found"),
        "duplicates_removed": receipt.get("duplicates_removed"),
        "columns": [
            {"name": c.get("name"), "type": c.get("type"), "field": c.get("field")} for c in source.get("columns", [])
        ],
        "encoding": source.get("encoding"),
        "delimiter": source.get("delimiter"),
        "quotechar": source.get("quotechar"),
        "header_row": source.get("header_row"),
        "warnings": [{"code": w.get("code"), "message": w.get("message")} for w in source.get("warnings", [])],
    }


class Command(BaseCommand):
    help = "Ingest a CSV/TSV/TXT/.gz/.zip/.xlsx/.xls file into a workspace through the datasets pipeline."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--workspace", required=True, help="Workspace slug.")
        parser.add_argument("--kind", default="", choices=["", *Kind.values])
        parser.add_argument("--name", default="", help="Dataset name (default: from the file name).")
        parser.add_argument("--mode", default=UploadMode.NEW, choices=UploadMode.values)
        parser.add_argument("--dataset", type=int, default=None, help="Dataset id for --mode replace/append.")
        parser.add_argument("--user", default="", help="Uploader's email (default: the workspace's first owner).")
        parser.add_argument("--sync", action="store_true", help="Run the whole pipeline in this process.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument(
            "--accept-mapping", action="store_true", help="Load with the proposed column mapping, skipping review."
        )
        parser.add_argument("--keep-duplicates", action="store_true")

    def handle(self, *args, **opts):
        path = Path(opts["path"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        workspace = Workspace.objects.filter(slug=opts["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace {opts['workspace']!r}.")
        user = self._user(workspace, opts["user"])
        dataset = None
        if opts["dataset"] is not None:
            dataset = Dataset.objects.for_workspace(workspace).filter(pk=opts["dataset"]).first()
            if dataset is None:
                raise CommandError(f"No dataset {opts['dataset']} in {workspace.slug}.")
        options = {}
        if opts["accept_mapping"]:
            options["accept_mapping"] = True
        if opts["keep_duplicates"]:
            options["keep_duplicates"] = True
        try:
            result = upload_from_path(
                workspace=workspace,
                user=user,
                path=path,
                original_name=path.name,
                kind=opts["kind"],
                mode=opts["mode"],
                dataset=dataset,
                dataset_name=opts["name"],
                options=options,
                enqueue=not opts["sync"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages))
        upload = result.upload
        if opts["sync"] and result.duplicate_of is None:
            upload_process(upload=upload)
        upload = Upload.objects.select_related("version").get(pk=upload.pk)
        summary = receipt_summary(upload)
        if result.duplicate_of is not None:
            summary["duplicate_of"] = result.duplicate_of.pk
            summary["dataset_id"] = result.duplicate_of.dataset_id
        self._print(upload, summary, opts)
        failed = upload.status in (UploadStatus.FAILED, UploadStatus.CANCELLED)
        if opts["sync"] and upload.status != UploadStatus.READY:
            failed = True
        if failed:
            raise CommandError(f"upload {upload.pk} ended {upload.status}: {upload.error_message or upload.error_code}")

    def _user(self, workspace: Workspace, email: str):
        memberships = Membership.objects.for_workspace(workspace).select_related("user")
        if email:
            membership = memberships.filter(user__email__iexact=email, role__in=[Role.OWNER, Role.ANALYST]).first()
            if membership is None:
                raise CommandError(f"{email} is not an owner or analyst of {workspace.slug}.")
            return membership.user
        membership = memberships.filter(role=Role.OWNER).order_by("created_at").first()
        return membership.user if membership else None

    def _print(self, upload: Upload, summary: dict, opts) -> None:
        if opts["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False, default=str))
            return
        if not opts["sync"]:
            self.stdout.write(str(upload.pk))
            return
        self.stdout.write(f"upload {upload.pk}: {upload.status}")
        if upload.error_message:
            self.stdout.write(f"error: {upload.error_message}")
        if summary.get("duplicate_of"):
            self.stdout.write(f"duplicate of upload {summary['duplicate_of']}")
        for key in ("kind", "rows_read", "rows_loaded", "rows_rejected", "duplicates", "encoding", "delimiter"):
            self.stdout.write(f"{key}: {summary[key]}")
        self.stdout.write(f"quote character: {summary['quotechar']}")
        self.stdout.write(f"header row: {summary['header_row']}")
        self.stdout.write("columns: " + ", ".join(f"{c['name']} ({c['type']})" for c in summary["columns"]))
        for warning in summary["warnings"]:
            self.stdout.write(f"warning: {warning['message']}")
