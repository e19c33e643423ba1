"""Django-free ingestion engine: an uploaded file in, typed Parquet and a receipt out.

result = ingest_file(path, out_dir=tmp, options=IngestOptions())
result.receipt.rows_loaded, result.parquet_path

preview = sniff_file(path)           # fast: dialect, header, types on a sample, mapping
"""

from .errors import IngestError, IngestWarning
from .load import IngestResult, Progress, ingest_file
from .mapping import MappingProposal, propose_mapping
from .options import IngestOptions, Limits
from .receipt import ColumnReceipt, Receipt
from .sniff import SniffResult, sniff_file

__all__ = [
    "ColumnReceipt",
    "IngestError",
    "IngestOptions",
    "IngestResult",
    "IngestWarning",
    "Limits",
    "MappingProposal",
    "Progress",
    "Receipt",
    "SniffResult",
    "ingest_file",
    "propose_mapping",
    "sniff_file",
]
