"""Container detection by magic bytes (never by file name) and guarded decompression.

Every decompressed byte passes through :class:`GuardedStream`, which enforces the absolute
size limit and the compression ratio while streaming, so a bomb is stopped after reading at
most ``max_decompressed_bytes`` and memory stays at one buffer.
"""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from . import errors as E
from .options import Limits

TEXT = "text"
GZIP = "gzip"
ZIP = "zip"
XLSX = "xlsx"
XLS = "xls"
ODS = "ods"
SPREADSHEETS = frozenset({XLSX, XLS, ODS})

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"

# Formats people upload by mistake. Recognised only to give a precise refusal.
KNOWN_BINARIES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"%PDF-", "PDF document"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"BZh", "bzip2 archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\x28\xb5\x2f\xfd", "zstd archive"),
    (b"\x7fELF", "executable"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"PAR1", "Parquet file"),
)
# Entries that archivers add and that are not data.
ZIP_JUNK_PREFIXES = ("__MACOSX/",)
ZIP_JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
VBA_STREAM_UTF16 = "_VBA_PROJECT".encode("utf-16-le")


def _magic_name(head: bytes) -> str | None:
    """The archive or binary format these leading bytes announce, if any."""
    if head.startswith(GZIP_MAGIC):
        return "gzip archive"
    if head.startswith(ZIP_MAGICS):
        return "zip archive"
    if head.startswith(OLE2_MAGIC):
        return "OLE2 document"
    for magic, name in KNOWN_BINARIES:
        if head.startswith(magic):
            return name
    return None


class GuardedStream(io.RawIOBase):
    """A read-only stream over decompressed bytes that enforces size and ratio limits.

    ``consumed`` reports how many bytes of the stored (compressed) file were read so far,
    for progress and for the ratio check.
    """

    def __init__(
        self,
        inner: BinaryIO,
        *,
        limits: Limits,
        consumed: Callable[[], int],
        compressed: bool,
        closers: tuple[Callable[[], None], ...] = (),
        progress: Callable[[int], int] | None = None,
        strip_nul: bool = False,
        max_line_bytes: int | None = None,
    ) -> None:
        super().__init__()
        self._inner = inner
        self._limits = limits
        self._consumed = consumed
        self._compressed = compressed
        self._closers = closers
        self._progress = progress
        self._strip_nul = strip_nul
        self._max_line = max_line_bytes
        self._since_newline = 0
        self.produced = 0
        self.nul_stripped = 0

    def readable(self) -> bool:
        return True

    @property
    def consumed(self) -> int:
        return self._consumed()

    @property
    def progress_bytes(self) -> int:
        """Bytes of the stored file processed so far (estimated inside a zip)."""
        return self._progress(self.produced) if self._progress else self._consumed()

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while True:
            data = self._read(len(buffer))
            if not data:
                return 0
            self.produced += len(data)
            if self._compressed:
                self._check_limits()
            if self._strip_nul and b"\x00" in data:
                # NUL never occurs inside a UTF-8 or single-byte character: safe to drop here,
                # at C speed, before decoding. An all-NUL read must not look like end of file.
                before = len(data)
                data = data.replace(b"\x00", b"")
                self.nul_stripped += before - len(data)
                if not data:
                    continue
            if self._max_line is not None:
                self._check_line_length(data)
            n = len(data)
            buffer[:n] = data
            return n

    def _read(self, size: int) -> bytes:
        try:
            return self._inner.read(size)
        except EOFError as exc:
            raise E.IngestError(E.GZIP_TRUNCATED, str(exc)) from exc
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise E.IngestError(E.GZIP_CORRUPT, str(exc)) from exc
        except zipfile.BadZipFile as exc:
            raise E.IngestError(E.ZIP_CORRUPT, str(exc)) from exc

    def _check_line_length(self, data: bytes) -> None:
        """Stop a newline-free stream (a 2 GiB one-line file) before the text layer buffers it."""
        last = max(data.rfind(b"\n"), data.rfind(b"\r"))
        self._since_newline = self._since_newline + len(data) if last < 0 else len(data) - last - 1
        if self._since_newline > (self._max_line or 0):
            raise E.IngestError(E.FIELD_TOO_LARGE, human_bytes(self._max_line or 0))

    def _check_limits(self) -> None:
        limits = self._limits
        if self.produced > limits.max_decompressed_bytes:
            raise E.IngestError(E.DECOMPRESSION_LIMIT, human_bytes(limits.max_decompressed_bytes))
        consumed = max(self._consumed(), 1)
        if self.produced > limits.ratio_grace_bytes and self.produced > limits.max_compression_ratio * consumed:
            raise E.IngestError(E.COMPRESSION_RATIO, f"{limits.max_compression_ratio:g}")

    def close(self) -> None:
        if not self.closed:
            for close in self._closers:
                close()
        super().close()


class _CountingFile(io.RawIOBase):
    """Counts the bytes read from the stored file (the compressed side)."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        # Straight into the caller's buffer: no intermediate bytes object and copy.
        n = self._raw.readinto(buffer)
        self.count += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass(frozen=True)
class Container:
    """What the stored file is, and how to get at its data bytes."""

    path: Path
    kind: str
    size_bytes: int
    inner_name: str | None = None  # the data file inside a zip
    limits: Limits = field(default_factory=Limits)

    @property
    def is_spreadsheet(self) -> bool:
        return self.kind in SPREADSHEETS

    def open(self, *, strip_nul: bool = False, max_line_bytes: int | None = None) -> GuardedStream:
        """A fresh stream over the data bytes (decompressed). Text containers only."""
        guards = {"strip_nul": strip_nul, "max_line_bytes": max_line_bytes}
        if self.kind == GZIP:
            counting = _CountingFile(open(self.path, "rb"))  # noqa: SIM115 - closed by GuardedStream
            inner = gzip.GzipFile(fileobj=counting, mode="rb")
            return GuardedStream(
                inner,  # type: ignore[arg-type]
                limits=self.limits,
                consumed=lambda: counting.count,
                compressed=True,
                closers=(inner.close, counting.close),
                **guards,
            )
        if self.kind == ZIP:
            archive = zipfile.ZipFile(self.path)
            info = archive.getinfo(self.inner_name or "")
            member = archive.open(info)
            # zipfile hides its compressed offset, so the ratio is judged against the member's
            # whole compressed size: still a hard bound, since a bomb's compressed size is small.
            return GuardedStream(
                member,  # type: ignore[arg-type]
                limits=self.limits,
                consumed=lambda: max(info.compress_size, 1),
                compressed=True,
                closers=(member.close, archive.close),
                progress=lambda produced: min(
                    self.size_bytes, int(produced * info.compress_size / max(info.file_size, 1))
                ),
                **guards,
            )
        raw = open(self.path, "rb")  # noqa: SIM115 - closed by GuardedStream
        counting = _CountingFile(raw)
        return GuardedStream(
            counting,  # type: ignore[arg-type]
            limits=self.limits,
            consumed=lambda: counting.count,
            compressed=False,
            closers=(counting.close,),
            **guards,
        )


def human_bytes(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:g} {unit}" if unit == "bytes" else f"{n:.1f} {unit}".replace(".0 ", " ")
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _check_member_name(name: str) -> None:
    """Refuse names that would escape an extraction directory (zip-slip), even though we never
    extract: such names only appear in crafted archives."""
    normalised = name.replace("\\", "/")
    path = PurePosixPath(normalised)
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":") or ".." in path.parts:
        raise E.IngestError(E.ZIP_UNSAFE_PATH, name[:200])


def _is_junk(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return name.endswith("/") or name.startswith(ZIP_JUNK_PREFIXES) or base in ZIP_JUNK_NAMES or base.startswith("._")


def _inspect_zip(path: Path, limits: Limits, size: int) -> Container:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise E.IngestError(E.ZIP_CORRUPT, str(exc)) from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_zip_entries:
            raise E.IngestError(E.ZIP_TOO_MANY_ENTRIES, len(infos))
        for info in infos:
            _check_member_name(info.filename)
        names = {info.filename for info in infos}
        if any(name.lower().endswith("vbaproject.bin") for name in names):
            raise E.IngestError(E.MACROS_NOT_ALLOWED)
        if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
            _check_declared_sizes(infos, limits)
            if "[Content_Types].xml" in names and b"macroEnabled" in archive.read("[Content_Types].xml"):
                raise E.IngestError(E.MACROS_NOT_ALLOWED)
            return Container(path=path, kind=XLSX, size_bytes=size, limits=limits)
        if "mimetype" in names and archive.read("mimetype").strip() == ODS_MIMETYPE:
            _check_declared_sizes(infos, limits)
            return Container(path=path, kind=ODS, size_bytes=size, limits=limits)
        data = [info for info in infos if not _is_junk(info.filename)]
        if not data:
            raise E.IngestError(E.ZIP_EMPTY)
        if len(data) > 1:
            raise E.IngestError(E.ZIP_MULTIPLE_FILES, len(data))
        if data[0].flag_bits & 0x1:
            raise E.IngestError(E.ZIP_ENCRYPTED)
        return Container(path=path, kind=ZIP, size_bytes=size, inner_name=data[0].filename, limits=limits)


def _check_declared_sizes(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    """Spreadsheet parsers inflate members themselves, so judge the declared sizes up front.
    (A lying header is caught by the zip reader's own size/CRC checks.)"""
    total = sum(info.file_size for info in infos)
    if total > limits.max_decompressed_bytes:
        raise E.IngestError(E.DECOMPRESSION_LIMIT, human_bytes(limits.max_decompressed_bytes))
    for info in infos:
        if info.file_size > limits.ratio_grace_bytes and info.file_size > limits.max_compression_ratio * max(
            info.compress_size, 1
        ):
            raise E.IngestError(E.COMPRESSION_RATIO, f"{limits.max_compression_ratio:g}")


def _ole2_has_macros(path: Path) -> bool:
    """An .xls carries VBA in an OLE2 stream named _VBA_PROJECT; its name is in the directory."""
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            if VBA_STREAM_UTF16 in tail + chunk:
                return True
            tail = chunk[-len(VBA_STREAM_UTF16) :]
    return False


def detect_container(path: str | Path, limits: Limits | None = None) -> Container:
    """Identify the stored file by its leading bytes and validate archives.

    Raises :class:`IngestError` for refused files (binaries, macros, unsafe or nested archives).
    """
    limits = limits or Limits()
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise E.IngestError(E.EMPTY_FILE)
    if size > limits.max_file_bytes:
        raise E.IngestError(E.FILE_TOO_LARGE, human_bytes(limits.max_file_bytes))
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head.startswith(GZIP_MAGIC):
        container = Container(path=path, kind=GZIP, size_bytes=size, limits=limits)
    elif head.startswith(ZIP_MAGICS):
        container = _inspect_zip(path, limits, size)
        if container.kind != ZIP:
            return container
    elif head.startswith(OLE2_MAGIC):
        if _ole2_has_macros(path):
            raise E.IngestError(E.MACROS_NOT_ALLOWED)
        return Container(path=path, kind=XLS, size_bytes=size, limits=limits)
    else:
        name = _magic_name(head)
        if name:
            raise E.IngestError(E.UNSUPPORTED_BINARY, name)
        return Container(path=path, kind=TEXT, size_bytes=size, limits=limits)
    # A compressed container: the payload itself must be plain data, not another archive.
    with container.open() as stream:
        inner_head = stream.read(64)
    inner = _magic_name(inner_head)
    if inner in ("gzip archive", "zip archive", "OLE2 document"):
        raise E.IngestError(E.NESTED_ARCHIVE, inner)
    if inner:
        raise E.IngestError(E.UNSUPPORTED_BINARY, inner)
    if not inner_head:
        raise E.IngestError(E.EMPTY_FILE)
    return container
