"""The full load: records -> staging Parquet (raw strings) -> duplicates -> typed Parquet.

(Plain UTF-8 text first tries the single pass - see `_Loader._single_pass` - which writes the
typed Parquet while reading and removes duplicate rows afterwards; the two-pass load below runs
when the single pass cannot prove it gives the same result.)

Pass 1 streams records into a staging file of raw strings, validating field counts and feeding
type inference with every value. DuckDB then finds exact duplicate rows (hash first, full
comparison only inside colliding groups; it spills to disk under its memory limit). Pass 2
streams the staging file back, converts each column to its final type, rejects rows with
invalid values and writes the result. Memory is bounded by the chunk size, never the file size.
"""

from __future__ import annotations

import csv
import itertools
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from . import container as C
from . import errors as E
from . import fastcsv
from . import types as T
from .fields import BOOLEAN_FIELDS
from .mapping import ColumnFacts, MappingProposal, propose_mapping
from .normalize import age_bucket, normalize_gender
from .options import IngestOptions
from .receipt import ColumnReceipt, Receipt
from .source import Prepared, SourceStats, open_records, prepare

LINE = "__line"
HASH = "__hash"
DATA_FILE = "data.parquet"
REJECTED_FILE = "rejected_rows.csv"
RECEIPT_FILE = "receipt.json"
STAGING_FILE = "staging.arrow"
# Rows with invalid values the single pass holds back (to reject them in the two-pass order);
# beyond that the file is messy enough for the two-pass load.
SINGLE_PASS_MAX_INVALID = 10_000
# The single pass keeps every row's hash in memory (8 bytes a row) to find duplicates: past
# this many rows (320 MB of hashes) the two-pass load, which spills, is used.
SINGLE_PASS_MAX_ROWS = 40_000_000
# Rows whose hash repeats are compared after the single pass, held in memory: past this many the
# file is mostly repeats, and the two-pass load (which spills) finds them.
SINGLE_PASS_MAX_REPEATED = 1_000_000
HASHES_FILE = "row_hashes.npy"


@dataclass(frozen=True)
class Progress:
    stage: str  # "reading" | "deduplicating" | "writing" | "done"
    bytes_done: int
    bytes_total: int
    rows_done: int
    elapsed_seconds: float


ProgressCallback = Callable[[Progress], None]


@dataclass
class IngestResult:
    receipt: Receipt
    parquet_path: Path
    rejected_rows_path: Path | None
    receipt_path: Path
    mapping: MappingProposal
    column_types: dict[str, T.ColumnType]
    # Which reader staged the records: "fast" (Arrow) or "python" (csv module); the result is
    # the same either way, this only says how long it took and why.
    reader: str = ""
    fallback_reason: str | None = None
    # True when the single pass stood (types from the first chunk proved right for the whole
    # file); else why the two-pass load ran after it (None: not attempted).
    single_pass: bool = False
    single_pass_abandoned: str | None = None
    # The single pass found duplicate rows after writing and removed them (or counted them).
    single_pass_dedup: bool = False


class _Speculation(Exception):
    """The single pass cannot prove that it gives the two-pass result."""


@dataclass(frozen=True)
class _Plan:
    types: dict[str, T.ColumnType]
    proposal: MappingProposal
    fields: dict[str, str | None]

    def __iter__(self):
        return iter((self.types, self.proposal, self.fields))


class _ParquetOut:
    """The typed Parquet file, opened on the first table written. Dictionary encoding is off for
    text columns whose first table is mostly distinct values (ids, e-mails): Arrow would build a
    dictionary in every row group only to drop it. Both loads write the same first table, so
    they write the same bytes."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            dictionary = [
                f.name
                for f, column in zip(table.schema, table.columns, strict=True)
                if not (
                    pa.types.is_string(f.type)
                    and len(column) >= 1000
                    and (pc.count_distinct(column).as_py() or 0) * 2 > len(column)
                )
            ]
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd", use_dictionary=dictionary)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        self.writer.close()


class _TypedWriter:
    """The single pass's output: typed batches written in order on their own thread; rows with
    invalid values held back, so they are rejected after the wrong-field-count rows (as in the
    two-pass load, where they only show up in pass 2)."""

    def __init__(self, loader: _Loader, plan: _Plan, path: Path) -> None:
        self.loader = loader
        self.plan = plan
        self.schema, self.derive_age = loader._output(plan.types, plan.fields)
        self.writer = _ParquetOut(path, self.schema)
        self.thread = ThreadPoolExecutor(max_workers=1)
        self.job = None
        self.nulls: Counter = Counter()
        self.loaded = 0
        self.nonfinite = 0
        self.deferred: list[tuple] = []

    def _defer(self, line: int, code: str, message: str, fields: list[str] | None) -> None:
        if len(self.deferred) >= SINGLE_PASS_MAX_INVALID:
            raise _Speculation("too many invalid values")
        self.deferred.append((line, code, message, fields))

    def add(self, batch: pa.RecordBatch, converted: list[T.Converted]) -> None:
        self.nonfinite += sum(c.nonfinite for c in converted)
        table = self.loader._typed_table(
            batch,
            converted,
            types=self.plan.types,
            fields=self.plan.fields,
            schema=self.schema,
            derive_age=self.derive_age,
            nulls=self.nulls,
            add=self._defer,
        )
        self.loaded += table.num_rows
        if self.loaded + len(self.deferred) > SINGLE_PASS_MAX_ROWS:
            raise _Speculation("too many rows to hold their hashes")
        self.flush()
        self.job = self.thread.submit(self.writer.write, table)

    def flush(self) -> None:
        if self.job is not None:
            job, self.job = self.job, None
            job.result()

    def close(self) -> None:
        if self.job is not None:
            wait([self.job])
        self.thread.shutdown(wait=True)
        self.writer.close()


class _Rejects:
    """Rejected rows: counted by reason, first line numbers kept, all (up to a cap) saved as CSV."""

    def __init__(self, path: Path, names: list[str], options: IngestOptions) -> None:
        self.path = path
        self.names = names
        self.options = options
        self.count = 0
        self.reasons: Counter[str] = Counter()
        self.lines: list[int] = []
        self.examples: list[dict] = []
        self._file = None
        self._writer = None

    def add(self, line: int, code: str, message: str, fields: list[str] | None) -> None:
        self.count += 1
        self.reasons[code] += 1
        if len(self.lines) < self.options.max_rejected_line_numbers:
            self.lines.append(line)
            self.examples.append({"line": line, "code": code, "message": message})
        if self.count > self.options.max_rejected_rows_saved:
            return
        if self._writer is None:
            self._file = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed in close()
            self._writer = csv.writer(self._file)
            self._writer.writerow(["line", "reason", *self.names])
        self._writer.writerow([line, message, *(fields or [])])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _row_hasher(
    con: duckdb.DuckDBPyConnection, width: int, columns: list[int] | None = None
) -> Callable[[pa.RecordBatch], pa.Array]:
    """A function giving each row's hash over its raw fields c0..cN, or only over ``columns``
    (thread-safe: one cursor per call)."""
    columns = list(range(width)) if columns is None else columns
    row_hash = "hash({}) AS {}".format(", ".join(f'"c{i}"' for i in columns), HASH)

    def hashed(batch: pa.RecordBatch) -> pa.Array:
        cursor = con.cursor()
        try:
            table = pa.Table.from_arrays([batch.column(i) for i in columns], names=[f"c{i}" for i in columns])
            hashes = cursor.from_arrow(table).project(row_hash).to_arrow_table()
        finally:
            cursor.close()
        return hashes.column(0).combine_chunks()

    return hashed


def _repeated_hashes(hashes: list[pa.Array], spill: Path) -> np.ndarray:
    """The row hashes that occur more than once (distinct, sorted). Empties ``hashes`` on the
    way and leaves them, in row order, in ``spill`` (a .npy file) for `_rows_hashed`: the memory
    peak is one copy of them (8 bytes a row), sorted in place."""
    values = np.empty(sum(len(h) for h in hashes), np.uint64)
    at = 0
    while hashes:
        chunk = hashes.pop(0).to_numpy(zero_copy_only=False)
        values[at : at + len(chunk)] = chunk
        at += len(chunk)
    np.save(spill, values)
    values.sort()
    repeated = values[1:][values[1:] == values[:-1]]
    return np.unique(repeated)


def _rows_hashed(spill: Path, repeated: np.ndarray, step: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """(row ordinals, hashes) of the rows whose hash is one of ``repeated`` (sorted), in row
    order, read from the ``spill`` file a slice at a time."""
    values = np.load(spill, mmap_mode="r")
    ordinals: list[np.ndarray] = []
    found: list[np.ndarray] = []
    count = 0
    for start in range(0, len(values), step):
        chunk = np.asarray(values[start : start + step])
        at = np.minimum(np.searchsorted(repeated, chunk), len(repeated) - 1)
        hit = np.flatnonzero(repeated[at] == chunk)
        count += len(hit)
        if count > SINGLE_PASS_MAX_REPEATED:
            raise _Speculation("too many repeated rows")
        ordinals.append(hit + start)
        found.append(chunk[hit])
    del values
    return np.concatenate(ordinals), np.concatenate(found)


@dataclass
class _Candidates:
    """Rows read back after the single pass: tables of typed values (c0..cN) and their hash, and
    the nulls of the rows removed."""

    pieces: list[pa.Table]
    removed_nulls: Counter


class _RowsSeen:
    """What the single pass keeps of every row it writes or holds back: its hash over the raw
    fields (in row order), and the ordinals (0-based, in that order) of the rows held back."""

    def __init__(self) -> None:
        self.hashes: list[pa.Array] = []
        self.held: list[int] = []
        self.count = 0

    def write(self, out: _TypedWriter, batch: pa.RecordBatch, hashes: pa.Array, converted: list[T.Converted]):
        self.hashes.append(hashes)
        before = len(out.deferred)
        out.add(batch, converted)
        if len(out.deferred) > before:
            lines = pa.array([entry[0] for entry in out.deferred[before:]], pa.int64())
            at = pc.index_in(lines, value_set=batch.column(LINE)).to_numpy(zero_copy_only=False)
            self.held.extend((at + self.count).tolist())
        self.count += batch.num_rows


def _one_batch(pieces: list[pa.Table]) -> pa.RecordBatch:
    table = pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)
    if any(column.num_chunks != 1 for column in table.columns):
        table = table.combine_chunks()
    return table.to_batches()[0]


def _wait(futures) -> None:
    """Wait for pool jobs and re-raise the first failure."""
    wait(futures)
    for future in futures:
        future.result()


def _field_count_message(expected: int, found: int) -> str:
    return f"expected {expected} fields, found {found}"


def _invalid_message(name: str, value: str, ct: T.ColumnType) -> str:
    what = ct.type + (f" ({ct.description})" if ct.description else "")
    return f"column {name!r}: {value[:80]!r} is not a valid {what}"


def ingest_file(
    path: str | Path,
    *,
    out_dir: str | Path,
    options: IngestOptions | None = None,
    progress: ProgressCallback | None = None,
    mapping: dict[str, str | None] | None = None,
) -> IngestResult:
    """Load ``path`` into ``out_dir/data.parquet`` and write the receipt next to it.

    ``mapping`` is a confirmed column -> canonical field mapping; without it the proposal is used
    (it only affects value normalisation: boolean flags, gender spellings, age buckets).
    Raises :class:`~datasets.ingest.errors.IngestError` when the file is refused as a whole.
    """
    options = options or IngestOptions()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    prepared = prepare(path, options)
    return _Loader(prepared, options, out, progress, started).run(mapping)


class _Loader:
    def __init__(self, prepared: Prepared, options: IngestOptions, out: Path, progress, started: float) -> None:
        self.prepared = prepared
        self.options = options
        self.out = out
        self.progress = progress
        self.started = started
        self.names = prepared.header.names
        self.width = prepared.header.width
        self.markers = pa.array(sorted(options.missing_markers | {""}), pa.string())
        self.stats = SourceStats()
        self.rejects = _Rejects(out / REJECTED_FILE, self.names, options)
        self.receipt = Receipt()
        self.trackers = [T.ColumnTracker(name, self.markers) for name in self.names]
        self.rows_read = 0
        self.trailing = 0
        self.header_line: int | None = prepared.header_line
        self.pass1 = ""  # "fast" | "python": which reader staged the records
        self.fallback_reason: str | None = None
        self.single_pass = False
        self.single_pass_abandoned: str | None = None
        self.single_pass_dedup = False
        self._proposals: dict[tuple[ColumnFacts, ...], MappingProposal] = {}
        self.pool: ThreadPoolExecutor | None = None

    def _report(self, stage: str, bytes_done: int, rows: int) -> None:
        if self.progress is not None:
            self.progress(
                Progress(stage, bytes_done, self.prepared.container.size_bytes, rows, time.monotonic() - self.started)
            )

    # --- pass 1 -------------------------------------------------------------------------------
    def _stage(self, staging: Path, reason: str | None = None) -> None:
        """Stage the records: the native fast path when it can prove the Python path's result,
        else (or when it finds out half-way that it cannot) the Python csv path from scratch."""
        reason = reason or fastcsv.ineligible(self.prepared)
        if reason is None:
            try:
                self._stage_with(staging, self._fast_batches)
                self.pass1 = "fast"
                return
            except fastcsv.Fallback as exc:
                reason = str(exc)
                self._reset_pass1()
        self.fallback_reason = reason
        self._stage_with(staging, self._python_batches)
        self.pass1 = "python"

    def _reset_pass1(self) -> None:
        self.rejects.close()
        # In place: the decoding error handlers count into this very DecodeStats object.
        self.stats.blank = 0
        self.stats.stream = None
        decode = self.stats.decode
        decode.replaced = decode.fallback = decode.nul = 0
        self.rejects = _Rejects(self.out / REJECTED_FILE, self.names, self.options)
        self.trackers = [T.ColumnTracker(name, self.markers) for name in self.names]
        self.rows_read = 0
        self.trailing = 0
        self.header_line = self.prepared.header_line

    def _stage_with(self, staging: Path, producer) -> None:
        schema = pa.schema([pa.field(f"c{i}", pa.string()) for i in range(self.width)] + [pa.field(LINE, pa.int64())])
        staged_schema = schema.append(pa.field(HASH, pa.uint64()))
        # Arrow IPC: the staging file is written once and read twice, and IPC costs a fraction
        # of Parquet's encoding time. Uncompressed it is ~1.4x the text, so it is only left
        # uncompressed for plain files (at most the upload limit); a gzip or zip can unpack to
        # max_decompressed_bytes, where lz4 (~0.8x the text, some CPU) protects the disk.
        compression = None if self.prepared.container.kind == C.TEXT else "lz4"
        sink = pa.OSFile(str(staging), "wb")
        writer = pa.ipc.new_file(sink, staged_schema, options=pa.ipc.IpcWriteOptions(compression=compression))
        pool = self._threads()
        con = duckdb.connect(config={"memory_limit": self.options.duckdb_memory_limit, "threads": 1})
        row_hash = _row_hasher(con, self.width)

        def hashed(batch: pa.RecordBatch) -> pa.RecordBatch:
            # Each row's hash is taken now, so finding duplicates later reads one column.
            return batch.append_column(HASH, row_hash(batch))

        pending: list = []
        try:
            for batch in producer(schema):
                # Type tracking and hashing of this batch run on the pool while the next one
                # is parsed; the previous one is written meanwhile.
                if pending:
                    _wait(pending)
                    writer.write_batch(pending[-1].result())
                pending = [pool.submit(t.update, batch.column(i)) for i, t in enumerate(self.trackers)]
                pending.append(pool.submit(hashed, batch))
            if pending:
                _wait(pending)
                writer.write_batch(pending[-1].result())
        finally:
            wait(pending)  # a fallback may leave jobs running: the connection must outlive them
            con.close()
            writer.close()
            sink.close()

    def _threads(self) -> ThreadPoolExecutor:
        # Per load, not per process: a Celery prefork child must not inherit a dead pool.
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2)))
        return self.pool

    def _rechunk(self, tables):
        """Batches of exactly ``chunk_rows`` rows whatever the source: type tracking then sees the
        same chunks on both paths, so both decide the same types. Zero-copy unless a batch
        straddles two source tables."""
        chunk = self.options.chunk_rows
        pieces: list[pa.Table] = []
        count = 0
        for table in tables:
            offset = 0
            while offset < table.num_rows:
                take = min(chunk - count, table.num_rows - offset)
                pieces.append(table.slice(offset, take))
                offset += take
                count += take
                if count == chunk:
                    yield _one_batch(pieces)
                    pieces, count = [], 0
        if count:
            yield _one_batch(pieces)

    def _fast_batches(self, schema: pa.Schema):
        prepared = self.prepared
        skip = prepared.header.index + (1 if prepared.header.has_header else 0)
        reader = fastcsv.FastReader(prepared, self.width, skip, LINE, self.stats)
        stream = prepared.container.open(strip_nul=True, max_line_bytes=self.options.limits.max_field_bytes)
        self.stats.stream = stream
        try:

            def tables():
                for table, events in reader.blocks(stream):
                    self.rows_read += events.rows_read
                    self.stats.blank += events.blank
                    self.trailing += events.trailing
                    for line, fields in events.rejects:
                        self.rejects.add(line, E.ROW_FIELD_COUNT, _field_count_message(self.width, len(fields)), fields)
                    self._report("reading", stream.progress_bytes, self.rows_read)
                    yield table.cast(schema)

            yield from self._rechunk(tables())
            if prepared.header.has_header:
                self.header_line = reader.header_line
        finally:
            stream.close()
        self.receipt.bytes_read = stream.progress_bytes
        self.receipt.decompressed_bytes = stream.produced

    def _python_batches(self, schema: pa.Schema):
        records, bytes_done, produced, close = open_records(self.prepared, self.options, self.stats)
        buffer: list[list[str]] = []
        lines: list[int] = []
        width = self.width
        skip = self.prepared.header.index + (1 if self.prepared.header.has_header else 0)
        chunk = self.options.chunk_rows

        def flush() -> pa.RecordBatch:
            # One flat conversion then strided takes: ~4x faster than transposing in Python.
            flat = pa.array(list(itertools.chain.from_iterable(buffer)), pa.string())
            starts = np.arange(len(buffer), dtype=np.int64) * width
            columns = [flat.take(pa.array(starts + i)) for i in range(width)]
            arrays = [*columns, pa.array(lines, pa.int64())]
            batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
            buffer.clear()
            lines.clear()
            self._report("reading", bytes_done(), self.rows_read)
            return batch

        try:
            for line, row, error in records:
                if skip:
                    # Metadata lines, then the header itself.
                    skip -= 1
                    if skip == 0 and self.prepared.header.has_header:
                        self.header_line = line
                    continue
                self.rows_read += 1
                if row is None:
                    code = E.ROW_UNTERMINATED_QUOTE if "unexpected end of data" in (error or "") else E.ROW_PARSE_ERROR
                    self.rejects.add(line, code, error or "", None)
                    continue
                if len(row) != width:
                    if len(row) < width or any(cell.strip() for cell in row[width:]):
                        self.rejects.add(line, E.ROW_FIELD_COUNT, _field_count_message(width, len(row)), row)
                        continue
                    # Extra *empty* trailing fields (spreadsheet exports) carry no data.
                    self.trailing += 1
                    del row[width:]
                buffer.append(row)
                lines.append(line)
                if len(buffer) >= chunk:
                    yield flush()
            if buffer:
                yield flush()
        finally:
            close()
        self.receipt.bytes_read = bytes_done()
        self.receipt.decompressed_bytes = produced()

    # --- duplicates ---------------------------------------------------------------------------
    def _duplicate_lines(self, staging: Path) -> pa.Array:
        """Line numbers of exact duplicates of an earlier row (raw text equal in every field)."""
        self._report("deduplicating", self.receipt.bytes_read, self.rows_read)
        tmp = self.out / "duckdb_tmp"
        # Only identifiers we made (c0..cN) and paths under out_dir go into the SQL; quotes in
        # the path are escaped.
        columns = ", ".join(f'"c{i}"' for i in range(self.width))
        source = "staging"
        con = duckdb.connect(config={"memory_limit": self.options.duckdb_memory_limit})
        try:
            # DuckDB scans the Arrow IPC staging file through a dataset, batch by batch.
            con.register(source, pads.dataset(staging, format="ipc"))
            con.execute("SET temp_directory = '{}'".format(tmp.as_posix().replace("'", "''")))
            con.execute("SET preserve_insertion_order = false")
            con.execute(
                f"CREATE TEMP TABLE dup_hash AS SELECT {HASH} AS h FROM {source} "  # noqa: S608
                "GROUP BY h HAVING count(*) > 1"
            )
            if not con.sql("SELECT count(*) FROM dup_hash").fetchall()[0][0]:
                return pa.array([], pa.int64())
            # Full comparison only inside hash groups that collide: exact, and cheap when
            # duplicates are rare.
            window = f"row_number() OVER (PARTITION BY {columns} ORDER BY {LINE})"
            colliding = f"{HASH} IN (SELECT h FROM dup_hash)"  # noqa: S608
            query = f"SELECT {LINE} FROM (SELECT {LINE}, {window} AS k FROM {source} WHERE {colliding}) WHERE k > 1"  # noqa: S608
            query += f" ORDER BY {LINE}"
            rows = con.sql(query).to_arrow_table()
        finally:
            con.close()
            shutil.rmtree(tmp, ignore_errors=True)
        return rows.column(LINE).combine_chunks()

    # --- types and mapping --------------------------------------------------------------------
    def _decide_types(self) -> dict[str, T.ColumnType]:
        comma_hint = bool(self.prepared.dialect and self.prepared.dialect.delimiter == ";")
        types: dict[str, T.ColumnType] = {}
        for tracker in self.trackers:
            forced = self.options.column_types.get(tracker.name)
            decided = tracker.decide(date_order=self.options.date_order, decimal_comma_hint=comma_hint)
            if forced and forced != decided.type:
                decided = tracker.best_partial(forced)
            types[tracker.name] = decided
        return types

    def _plan(self, mapping: dict[str, str | None] | None) -> _Plan:
        """Types, mapping proposal and fields, as the trackers have seen the data so far."""
        types = self._decide_types()
        facts = tuple(self._facts(types))
        # The single pass asks after every chunk; the facts rarely change, the answer never
        # does while they stay (propose_mapping depends on them and the kind only).
        proposal = self._proposals.get(facts)
        if proposal is None:
            proposal = self._proposals[facts] = propose_mapping(list(facts), kind=self.options.kind)
        fields = mapping if mapping is not None else proposal.as_dict()
        for name, field_name in fields.items():
            ct = types.get(name)
            facts_01 = next((t.only01 and t.matches_all(T.BOOLEAN) for t in self.trackers if t.name == name), False)
            if field_name in BOOLEAN_FIELDS and ct is not None and ct.type == T.INTEGER and facts_01:
                types[name] = T.ColumnType(T.BOOLEAN, description="1/0")
        return _Plan(types, proposal, fields)

    def _facts(self, types: dict[str, T.ColumnType]) -> list[ColumnFacts]:
        return [
            ColumnFacts(
                name=t.name,
                type=types[t.name],
                binary01=types[t.name].type == T.INTEGER and t.only01 and t.matches_all(T.BOOLEAN),
                emails=t.matches_all("email"),
                samples=tuple(t.samples),
            )
            for t in self.trackers
        ]

    # --- pass 2 -------------------------------------------------------------------------------
    def _write(self, staging: Path, types: dict[str, T.ColumnType], fields: dict[str, str | None], drop: pa.Array):
        schema, derive_age = self._output(types, fields)
        nulls = Counter()
        loaded = 0
        nonfinite = 0
        drop_lines = drop.to_numpy(zero_copy_only=False) if not self.options.keep_duplicates else None
        few_distinct = [True] * self.width  # per column: still worth converting distinct values only

        def convert(staged: pa.RecordBatch) -> tuple[pa.RecordBatch, list[T.Converted]]:
            batch = staged
            if drop_lines is not None and len(drop_lines) and staged.num_rows:
                # Lines only grow through the staging file: the slice of `drop` for this batch.
                lines = staged.column(LINE)
                lo, hi = pc.min(lines).as_py(), pc.max(lines).as_py()
                here = drop_lines[np.searchsorted(drop_lines, lo) : np.searchsorted(drop_lines, hi, side="right")]
                if len(here):
                    batch = staged.filter(pc.invert(pc.is_in(lines, value_set=pa.array(here))))
            return batch, [self._convert_column(batch, i, types, few_distinct) for i in range(self.width)]

        pool = self._threads()
        with pa.OSFile(str(staging), "rb") as staged_file:
            source = pa.ipc.open_file(staged_file)
            # Batches are converted on the pool, two ahead, and written here in file order.
            ahead = [pool.submit(convert, source.get_batch(i)) for i in range(min(2, source.num_record_batches))]
            writer = _ParquetOut(self.out / DATA_FILE, schema)
            try:
                for index in range(source.num_record_batches):
                    batch, converted = ahead.pop(0).result()
                    if index + 2 < source.num_record_batches:
                        ahead.append(pool.submit(convert, source.get_batch(index + 2)))
                    nonfinite += sum(c.nonfinite for c in converted)
                    table = self._typed_table(
                        batch, converted, types=types, fields=fields, schema=schema, derive_age=derive_age, nulls=nulls
                    )
                    loaded += table.num_rows
                    writer.write(table)
                    self._report("writing", self.receipt.bytes_read, loaded)
            finally:
                writer.close()
        return loaded, nulls, nonfinite, derive_age

    def _output(self, types: dict[str, T.ColumnType], fields: dict[str, str | None]) -> tuple[pa.Schema, list[str]]:
        """The typed schema, and the column an age_range is derived from (if any)."""
        names = self.names
        derive_age = [
            n for n in names if fields.get(n) == "age_range" and types[n].type == T.INTEGER and "age_range" not in names
        ][:1]
        out_fields = [pa.field(n, T.arrow_type(types[n])) for n in names]
        out_fields += [pa.field("age_range", pa.string()) for _ in derive_age]
        return pa.schema(out_fields), derive_age

    def _convert_column(self, batch: pa.RecordBatch, i: int, types, few_distinct: list[bool]) -> T.Converted:
        ct = types[self.names[i]]
        converted = T.convert_distinct(batch.column(i), ct, self.markers) if few_distinct[i] else None
        if converted is None:
            few_distinct[i] = False
            converted = T.convert(batch.column(i), ct, self.markers)
        return converted

    def _typed_table(self, batch, converted, *, types, fields, schema, derive_age, nulls, add=None) -> pa.Table:
        """One batch's typed rows: invalid rows rejected (through ``add``), values normalised,
        null counts added to ``nulls``."""
        names = self.names
        bad = None
        for c in converted:
            if c.invalid is not None and pc.any(c.invalid).as_py():
                bad = c.invalid if bad is None else pc.or_(bad, c.invalid)
        arrays = [c.values for c in converted]
        if bad is not None:
            self._reject_invalid(batch, converted, bad, types, add)
            keep = pc.invert(bad)
            arrays = [pc.filter(a, keep) for a in arrays]
        for i, n in enumerate(names):
            if fields.get(n) == "gender" and types[n].type == T.TEXT:
                arrays[i] = normalize_gender(arrays[i])
        arrays += [age_bucket(arrays[names.index(n)]) for n in derive_age]
        for n, array in zip(schema.names, arrays, strict=True):
            nulls[n] += array.null_count
        return pa.Table.from_arrays(arrays, schema=schema)

    def _reject_invalid(self, batch, converted, bad, types, add=None) -> None:
        add = add or self.rejects.add
        lines = batch.column(LINE)
        raw_columns = [batch.column(i) for i in range(self.width)]
        for index in pc.indices_nonzero(bad).to_pylist():
            column = next(i for i, c in enumerate(converted) if c.invalid is not None and c.invalid[index].as_py())
            name = self.names[column]
            raw = [col[index].as_py() for col in raw_columns]
            message = _invalid_message(name, raw[column].strip(), types[name])
            add(lines[index].as_py(), E.ROW_INVALID_VALUE, message, raw)

    # --- single pass ----------------------------------------------------------------------------
    def _try_single_pass(self, staging: Path, mapping):
        """The single pass when it can stand, else None after staging for the two-pass load."""
        reason = fastcsv.ineligible(self.prepared)
        if reason is None and self.options.single_pass:
            try:
                done = self._single_pass(mapping)
                self.single_pass, self.pass1 = True, "fast"
                return done
            except _Speculation as exc:
                self.single_pass_abandoned = str(exc)
                self._reset_pass1()
            except fastcsv.Fallback as exc:
                # The fast reader cannot take this file: straight to the Python reader.
                self.single_pass_abandoned = reason = str(exc)
                self._reset_pass1()
            finally:
                (self.out / HASHES_FILE).unlink(missing_ok=True)
        self._stage(staging, reason)
        return None

    def _single_pass(self, mapping):
        """Parse, track types, convert and write the final Parquet in one pass over the file.

        The types (and mapping) come from the first chunk. Every chunk still feeds the trackers
        exactly as in the two-pass load, so the decision over the whole file is known at the end:
        the result stands only if that decision never moved off the one used for writing. Every
        row's hash over its raw fields is kept; when some repeat, the duplicates are found and
        removed after writing (`_single_pass_duplicates`). Rows with invalid values are rejected
        after the reading, in the order the two-pass load rejects them. Anything else raises
        :class:`_Speculation` and the two-pass load runs from scratch.
        """
        schema = pa.schema([pa.field(f"c{i}", pa.string()) for i in range(self.width)] + [pa.field(LINE, pa.int64())])
        pool = self._threads()
        con = duckdb.connect(config={"memory_limit": self.options.duckdb_memory_limit, "threads": 1})
        row_hash = _row_hasher(con, self.width)
        rows = _RowsSeen()
        few_distinct = [True] * self.width
        plan: _Plan | None = None
        out: _TypedWriter | None = None
        tracking: list = []  # tracker jobs of the latest batch
        previous = None  # (batch, [hash job, one conversion job per column]) not written yet

        def emit(item) -> None:
            batch, jobs = item
            _wait(jobs)
            rows.write(out, batch, jobs[0].result(), [job.result() for job in jobs[1:]])

        try:
            for batch in self._fast_batches(schema):
                # The trackers must be done with the last batch before they see this one.
                _wait(tracking)
                if plan is not None and self._plan(mapping) != plan:
                    raise _Speculation(f"column types changed before line {batch.column(LINE)[0].as_py()}")
                tracking = [pool.submit(t.update, batch.column(i)) for i, t in enumerate(self.trackers)]
                if plan is None:
                    _wait(tracking)
                    tracking = []
                    plan = self._plan(mapping)
                    out = _TypedWriter(self, plan, self.out / DATA_FILE)
                jobs = [pool.submit(row_hash, batch)]
                jobs += [
                    pool.submit(self._convert_column, batch, i, plan.types, few_distinct) for i in range(self.width)
                ]
                # Recorded before the last batch is written, so a failure there still waits for these.
                item, previous = previous, (batch, jobs)
                if item is not None:
                    emit(item)
            _wait(tracking)
            if plan is None:
                raise _Speculation("no rows to load")
            if self._plan(mapping) != plan:
                raise _Speculation("column types changed in the last chunk")
            if previous is not None:
                emit(previous)
                previous = None
            out.flush()
        finally:
            # A failure may leave jobs running: the connection and writer must outlive them.
            wait([*tracking, *(previous[1] if previous else [])])
            if out is not None:
                out.close()
            con.close()
        duplicates = self._single_pass_deduplicate(out, rows.hashes, rows.held)
        for line, code, message, raw in out.deferred:
            self.rejects.add(line, code, message, raw)
        return plan, out.loaded, out.nulls, out.nonfinite, out.derive_age, duplicates

    def _single_pass_deduplicate(self, out: _TypedWriter, hashes: list[pa.Array], invalid: list[int]) -> int:
        """The number of duplicate rows (0 when no row hash repeats), removed unless kept."""
        repeated = _repeated_hashes(hashes, self.out / HASHES_FILE)
        if not len(repeated):
            return 0
        try:
            return self._single_pass_duplicates(out, repeated, np.array(invalid, np.int64))
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            raise _Speculation(f"duplicates after writing: {exc}") from exc

    def _single_pass_duplicates(self, out: _TypedWriter, repeated: np.ndarray, invalid: np.ndarray) -> int:
        """Find the exact duplicates among the rows whose hash repeats, after the single pass, and
        (unless they are kept) remove them from the written Parquet and the held-back rejects, so
        that everything matches the two-pass load (which drops them before converting).

        A row is a duplicate of an earlier one when their raw fields are equal. Held-back rows
        (invalid values) still have their raw fields: compared exactly. A written row whose hash
        over the raw fields an earlier written row has is taken for its duplicate, and one read
        of the Parquet file both rewrites it without those rows and proves the guess: rows of
        equal hash must have equal typed values (raw-equal rows convert alike), else the
        two-pass load decides. Only a 64-bit hash collision between rows that also convert to
        equal values could miscount. Returns the number of duplicates.
        """
        self._report("deduplicating", self.receipt.bytes_read, self.rows_read)
        self.single_pass_dedup = True
        ordinals, row_hashes = _rows_hashed(self.out / HASHES_FILE, repeated)
        held = np.isin(ordinals, invalid)
        # Held-back rows: exact comparison of their raw fields, the earlier row kept.
        position = np.searchsorted(invalid, ordinals[held])
        seen: set = set()
        drop_held: set[int] = set()
        for at, row_hash in zip(position.tolist(), row_hashes[held].tolist(), strict=True):
            key = (row_hash, tuple(out.deferred[at][3] or ()))
            if key in seen:
                drop_held.add(at)
            seen.add(key)
        # Written rows: their index in the Parquet file is their ordinal less the held-back rows before.
        written = ordinals[~held]
        rows = written - np.searchsorted(invalid, written)
        hashes = row_hashes[~held]
        order = np.lexsort((rows, hashes))
        later = np.zeros(len(rows), bool)
        later[order[1:]] = hashes[order[1:]] == hashes[order[:-1]]
        drop = rows[later]  # sorted, as `rows` is
        duplicates = len(drop_held) + len(drop)
        removing = bool(duplicates) and not self.options.keep_duplicates
        if removing and out.nonfinite:
            # Removed rows' infinities would have to be uncounted, and the Parquet has them as nulls.
            raise _Speculation("repeated rows in a file with non-finite values")
        path = out.writer.path
        target = path.with_name(path.name + ".dedup")
        try:
            removed_nulls = Counter()
            if len(rows):
                rewrite = target if removing and len(drop) else None
                candidates = self._parquet_pass(path, out.schema, rows, hashes, target=rewrite, drop=drop)
                if not self._equal_within_hashes(candidates, len(np.unique(hashes))):
                    raise _Speculation("rows with equal hashes but different values")
                removed_nulls = candidates.removed_nulls
            if removing:
                if len(drop):
                    os.replace(target, path)
                out.loaded -= len(drop)
                out.nulls.subtract(removed_nulls)
                out.deferred = [entry for at, entry in enumerate(out.deferred) if at not in drop_held]
        finally:
            target.unlink(missing_ok=True)
        return duplicates

    def _parquet_pass(self, path: Path, schema: pa.Schema, rows, hashes, *, target: Path | None, drop) -> _Candidates:
        """One read of the Parquet file (only the row groups holding candidate ``rows`` when
        ``target`` is None): the candidate rows with their hashes, and, into ``target``, the file
        without the rows at ``drop``, written as the two-pass load writes it (one table per row
        group, i.e. per batch)."""
        parquet = pq.ParquetFile(path)
        sizes = [parquet.metadata.row_group(g).num_rows for g in range(parquet.metadata.num_row_groups)]
        starts = np.cumsum([0, *sizes])
        groups = [
            g
            for g in range(len(sizes))
            if target is not None or np.searchsorted(rows, starts[g + 1]) > np.searchsorted(rows, starts[g])
        ]
        found = _Candidates(pieces=[], removed_nulls=Counter())
        writer = _ParquetOut(target, schema) if target is not None else None
        reader = ThreadPoolExecutor(max_workers=1)  # decodes the next row group while this one is handled
        ahead = [reader.submit(parquet.read_row_group, g) for g in groups[:1]]
        try:
            for index, group in enumerate(groups):
                table = ahead.pop().result()
                if index + 1 < len(groups):
                    ahead.append(reader.submit(parquet.read_row_group, groups[index + 1]))
                start, stop = starts[group], starts[group + 1]
                lo, hi = np.searchsorted(rows, start), np.searchsorted(rows, stop)
                if hi > lo:
                    picked = table.take(pa.array(rows[lo:hi] - start)).rename_columns(
                        [f"c{i}" for i in range(table.num_columns)]
                    )
                    found.pieces.append(picked.append_column(HASH, pa.array(hashes[lo:hi], pa.uint64())))
                if writer is not None:
                    here = drop[np.searchsorted(drop, start) : np.searchsorted(drop, stop)] - start
                    if len(here):
                        mask = np.zeros(table.num_rows, bool)
                        mask[here] = True
                        for name, column in zip(schema.names, table.filter(pa.array(mask)).columns, strict=True):
                            found.removed_nulls[name] += column.null_count
                        table = table.filter(pa.array(~mask))
                    writer.write(pa.Table.from_arrays(table.columns, schema=schema))
        finally:
            wait(ahead)
            reader.shutdown(wait=True)
            if writer is not None:
                writer.close()
            parquet.close()
        return found

    def _equal_within_hashes(self, candidates: _Candidates, distinct_hashes: int) -> bool:
        """Whether candidate rows of equal hash all have equal typed values (DuckDB counts the
        distinct (hash, values) pairs: as many as the hashes)."""
        table = pa.concat_tables(candidates.pieces)
        columns = ", ".join(f'"c{i}"' for i in range(table.num_columns - 1))
        con = duckdb.connect(config={"memory_limit": self.options.duckdb_memory_limit, "threads": 1})
        try:
            con.register("candidates", table)
            # Only identifiers we made (c0..cN, __hash) go into the SQL.
            query = f"SELECT count(*) FROM (SELECT DISTINCT {HASH}, {columns} FROM candidates)"  # noqa: S608
            pairs = con.sql(query).fetchall()[0][0]
        finally:
            con.close()
        return pairs == distinct_hashes

    # --- orchestration --------------------------------------------------------------------------
    def run(self, mapping: dict[str, str | None] | None) -> IngestResult:
        staging = self.out / STAGING_FILE
        try:
            return self._run(staging, mapping)
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)
            self.rejects.close()
            staging.unlink(missing_ok=True)

    def _run(self, staging: Path, mapping: dict[str, str | None] | None) -> IngestResult:
        from .encoding import track_decoding, untrack_decoding

        token = track_decoding(self.stats.decode)
        try:
            single = self._try_single_pass(staging, mapping)
        finally:
            untrack_decoding(token)
        if self.rows_read == 0:
            raise E.IngestError(E.NO_DATA)
        if single is not None:
            (types, proposal, fields), loaded, nulls, nonfinite, derived, duplicates = single
            self._report("done", self.receipt.bytes_read, loaded)
            return self._finish(
                types=types,
                fields=fields,
                proposal=proposal,
                loaded=loaded,
                nulls=nulls,
                nonfinite=nonfinite,
                derived=derived,
                duplicates=duplicates,
            )
        types, proposal, fields = self._plan(mapping)
        drop = self._duplicate_lines(staging)
        loaded, nulls, nonfinite, derived = self._write(staging, types, fields, drop)
        self._report("done", self.receipt.bytes_read, loaded)
        return self._finish(
            types=types,
            fields=fields,
            proposal=proposal,
            loaded=loaded,
            nulls=nulls,
            nonfinite=nonfinite,
            derived=derived,
            duplicates=len(drop),
        )

    def _finish(self, *, types, fields, proposal, loaded, nulls, nonfinite, derived, duplicates) -> IngestResult:
        r = self.receipt
        p = self.prepared
        r.rows_read = self.rows_read
        r.rows_loaded = loaded
        r.rows_rejected = self.rejects.count
        r.rejected_reasons = dict(self.rejects.reasons)
        r.rejected_line_numbers = sorted(self.rejects.lines)
        r.rejected_examples = self.rejects.examples
        r.rejected_rows_file = REJECTED_FILE if self.rejects.count else None
        r.duplicates_found = duplicates
        r.duplicates_removed = 0 if self.options.keep_duplicates else duplicates
        r.blank_lines = self.stats.blank
        r.container = p.container.kind
        r.inner_name = p.container.inner_name
        r.sheet, r.sheet_names = p.sheet, p.sheet_names
        if p.encoding is not None:
            r.encoding, r.encoding_confidence = p.encoding.name, p.encoding.confidence
        if p.dialect is not None:
            r.delimiter, r.quotechar, r.escapechar = (
                p.dialect.delimiter,
                p.dialect.parse_quotechar,
                p.dialect.escapechar,
            )
        r.has_header = p.header.has_header
        r.header_row = self.header_line if p.header.has_header else None
        r.lines_skipped_above_header = p.header.index
        r.kind = proposal.kind
        for name in self.names:
            ct = types[name]
            r.columns.append(
                ColumnReceipt(
                    name,
                    ct.type,
                    ct.format,
                    ct.description,
                    nulls[name],
                    _rate(nulls[name], loaded),
                    field=fields.get(name),
                )
            )
        for source_name in derived:
            r.columns.append(
                ColumnReceipt(
                    "age_range",
                    T.TEXT,
                    None,
                    "age range from age",
                    nulls["age_range"],
                    _rate(nulls["age_range"], loaded),
                    field="age_range",
                    source=source_name,
                )
            )
        r.warnings = self._warnings(types, nonfinite, duplicates)
        r.elapsed_seconds = round(time.monotonic() - self.started, 3)
        receipt_path = self.out / RECEIPT_FILE
        receipt_path.write_text(r.to_json(indent=2), encoding="utf-8")
        return IngestResult(
            receipt=r,
            parquet_path=self.out / DATA_FILE,
            rejected_rows_path=self.out / REJECTED_FILE if self.rejects.count else None,
            receipt_path=receipt_path,
            mapping=proposal,
            column_types=types,
            reader=self.pass1,
            fallback_reason=self.fallback_reason,
            single_pass=self.single_pass,
            single_pass_abandoned=self.single_pass_abandoned,
            single_pass_dedup=self.single_pass and self.single_pass_dedup,
        )

    def _warnings(self, types, nonfinite: int, duplicates: int) -> list[E.IngestWarning]:
        W = E.IngestWarning.make
        p = self.prepared
        out = list(p.warnings)
        decode = self.stats.decode
        if decode.fallback:
            out.append(W(E.W_MIXED_ENCODING, decode.fallback, count=decode.fallback))
        if decode.replaced:
            out.append(W(E.W_DECODE_REPLACED, decode.replaced, count=decode.replaced))
        if self.stats.nul:
            out.append(W(E.W_NUL_BYTES, self.stats.nul, count=self.stats.nul))
        if not p.header.has_header:
            out.append(W(E.W_NO_HEADER))
        if p.header.index:
            out.append(W(E.W_METADATA_LINES_SKIPPED, p.header.index, count=p.header.index))
        if p.header.renamed:
            out.append(W(E.W_HEADER_RENAMED, "; ".join(p.header.renamed)))
        if self.stats.blank:
            out.append(W(E.W_BLANK_LINES, self.stats.blank, count=self.stats.blank))
        if self.trailing:
            out.append(W(E.W_TRAILING_EMPTY_FIELDS, self.trailing, count=self.trailing))
        ambiguous = [n for n, t in types.items() if t.ambiguous]
        if ambiguous:
            out.append(W(E.W_DATE_AMBIGUOUS, ", ".join(ambiguous), columns=ambiguous))
        if nonfinite:
            out.append(W(E.W_NON_FINITE, nonfinite, count=nonfinite))
        if duplicates:
            code = E.W_DUPLICATES_KEPT if self.options.keep_duplicates else E.W_DUPLICATES_REMOVED
            out.append(W(code, duplicates, count=duplicates))
        if self.rejects.count:
            out.append(W(E.W_ROWS_REJECTED, self.rejects.count, count=self.rejects.count))
        return out


def _rate(nulls: int, rows: int) -> float:
    return round(nulls / rows, 6) if rows else 0.0
