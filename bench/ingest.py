"""Ingestion benchmark: the real worker path against DuckDB's own CSV -> Parquet.

    .venv/bin/python bench/ingest.py                 # 1M and 10M visitor rows
    .venv/bin/python bench/ingest.py --rows 200000   # a quick run
    .venv/bin/python bench/ingest.py --rows 1000000 --duplicates 1000   # 1 row in 1,000 repeated

For each size it generates a visitors file with the deterministic generator (cached in the work
dir), measures the baseline `COPY (SELECT * FROM read_csv('<file>')) TO '<x>.parquet'` in DuckDB,
then stores the file as an upload and lets a real `celery -A config worker` subprocess take the
task from the broker and run the whole pipeline (sniff, load, dedup, typed Parquet, publish).
It prints rows/s, MB/s, the worker child's peak RSS (VmHWM) and the ratio to the baseline.
Targets (issue 4): <= 2x the baseline time at 10M rows; peak worker RSS <= 1 GB.

Everything lives in a private work dir (its own SQLite database, filesystem broker and media
root), so it never touches the development database or a running `make run`.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TIMEOUT_SECONDS = 3600


def _environment(workdir: Path, queue: str) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "0",
        "LEADNAV_VAR_DIR": str(workdir / "var"),
        "DJANGO_MEDIA_ROOT": str(workdir / "media"),
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "REDIS_URL": "",
        "DATASETS_INGEST_QUEUE": queue,
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    return {**os.environ, **env}


def _with_duplicates(source: Path, target: Path, every: int) -> int:
    """Copy `source` and append again every `every`-th data line (exact duplicate rows); return how many."""
    repeats: list[bytes] = []
    with source.open("rb") as reader, target.open("wb") as writer:
        writer.write(reader.readline())  # the header
        for number, line in enumerate(reader, start=1):
            writer.write(line)
            if number % every == 0:
                repeats.append(line)
        writer.writelines(repeats)
    return len(repeats)


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _vm_hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _baseline(csv_path: Path, out: Path) -> float:
    import duckdb

    out.unlink(missing_ok=True)
    started = time.perf_counter()
    con = duckdb.connect()
    # The documented baseline, verbatim; both paths are ours (the bench work dir).
    con.execute(f"COPY (SELECT * FROM read_csv('{csv_path}')) TO '{out}' (FORMAT parquet)")  # noqa: S608
    con.close()
    return time.perf_counter() - started


def _start_worker(env: dict, queue: str, log: Path) -> subprocess.Popen:
    command = [
        *(sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "WARNING"),
        *("--concurrency", "1", "--queues", queue, "--hostname", f"{queue}@%h", "--without-mingle", "--without-gossip"),
    ]
    out = log.open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _children(process.pid):
        time.sleep(0.2)
    time.sleep(2)
    return process


def main() -> int:  # noqa: PLR0912, PLR0915 - a script, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1000000,10000000", help="Comma-separated row counts.")
    parser.add_argument("--workdir", default=str(REPO / "var" / "bench"))
    parser.add_argument(
        "--duplicates",
        type=int,
        default=0,
        metavar="N",
        help="append every N-th row again (exact duplicates the load must find and drop); 0: none",
    )
    parser.add_argument(
        "--hash-at-finish",
        action="store_true",
        help="store without the running SHA-256 (one extra pass over the file at finish, as before issue 4's fix)",
    )
    args = parser.parse_args()
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "bench.sqlite3").unlink(missing_ok=True)
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    env = _environment(workdir, queue)
    sys.path.insert(0, str(REPO))

    import django

    django.setup()
    from django.core.management import call_command

    from accounts.models import User
    from datasets import hashing
    from datasets.ingest.generator import generate_visitors
    from datasets.services import upload_from_path
    from workspaces.models import Membership, Role, Workspace

    if args.hash_at_finish:
        hashing._AVAILABLE = False  # only this process stores uploads; the worker never hashes
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)  # the worker's heartbeat writes to the database cache
    workspace, _ = Workspace.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    user, _ = User.objects.get_or_create(email="bench@bench.local")
    Membership.objects.get_or_create(workspace=workspace, user=user, defaults={"role": Role.OWNER})

    worker = _start_worker(env, queue, workdir / "worker.log")
    results = []
    try:
        for rows in [int(r) for r in args.rows.split(",")]:
            csv_path = workdir / f"visitors-{rows}.csv"
            if not csv_path.exists():
                print(f"generating {rows:,} rows ...", flush=True)
                generate_visitors(csv_path, rows, seed=42)
            duplicates = 0
            if args.duplicates:
                plain, csv_path = csv_path, workdir / f"visitors-{rows}-dup{args.duplicates}.csv"
                duplicates = _with_duplicates(plain, csv_path, args.duplicates)
                print(f"{duplicates:,} duplicate rows appended (every {args.duplicates:,}th row)", flush=True)
            size_mb = csv_path.stat().st_size / 1e6
            baseline = _baseline(csv_path, workdir / f"baseline-{rows}.parquet")
            print(f"{rows:,} rows ({size_mb:,.0f} MB): DuckDB baseline {baseline:.1f} s", flush=True)

            stored_at = time.perf_counter()
            result = upload_from_path(workspace=workspace, user=user, path=csv_path, options={"accept_mapping": True})
            queued_at = time.perf_counter()
            upload = result.upload
            peak = 0
            deadline = time.monotonic() + TIMEOUT_SECONDS
            while time.monotonic() < deadline:
                for child in _children(worker.pid):
                    peak = max(peak, _vm_hwm_kib(child))
                upload.refresh_from_db()
                if upload.is_terminal or worker.poll() is not None:
                    break
                time.sleep(0.5)
            done_at = time.perf_counter()
            for child in _children(worker.pid):
                peak = max(peak, _vm_hwm_kib(child))
            if upload.status != "ready":
                print(f"  upload ended {upload.status}: {upload.error_code} {upload.error_message}", flush=True)
                return 1
            worker_seconds = (upload.finished_at - upload.started_at).total_seconds()
            receipt = upload.receipt
            line = {
                "rows": rows,
                "mb": size_mb,
                "baseline_s": baseline,
                "store_and_hash_s": queued_at - stored_at,
                "queue_to_ready_s": done_at - queued_at,
                "worker_s": worker_seconds,
                "rows_per_s": rows / worker_seconds,
                "mb_per_s": size_mb / worker_seconds,
                "peak_rss_mb": peak / 1024,
                "ratio": worker_seconds / baseline,
                "rows_loaded": receipt["rows_loaded"],
                "duplicates_removed": receipt["duplicates_removed"],
            }
            if receipt["duplicates_removed"] != duplicates:
                removed = receipt["duplicates_removed"]
                print(f"  expected {duplicates:,} duplicates removed, got {removed:,}", flush=True)
                return 1
            results.append(line)
            print(
                f"  pipeline: worker {worker_seconds:.1f} s ({line['rows_per_s']:,.0f} rows/s, "
                f"{line['mb_per_s']:.1f} MB/s), queue->ready {line['queue_to_ready_s']:.1f} s, "
                f"store+sha256 {line['store_and_hash_s']:.1f} s; peak worker RSS {line['peak_rss_mb']:,.0f} MB; "
                f"ratio to baseline {line['ratio']:.2f}x; rows loaded {receipt['rows_loaded']:,}, "
                f"duplicates removed {receipt['duplicates_removed']:,}",
                flush=True,
            )
    finally:
        os.kill(worker.pid, signal.SIGTERM)  # warm shutdown of the main process; it stops its child
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
    print()
    header = ("rows", "MB", "baseline s", "worker s", "rows/s", "MB/s", "RSS MB", "ratio")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (12, 7, 10, 9, 10, 6, 7, 6), strict=True)))
    for r in results:
        print(
            f"{r['rows']:>12,} {r['mb']:>7,.0f} {r['baseline_s']:>10.1f} {r['worker_s']:>9.1f} "
            f"{r['rows_per_s']:>10,.0f} {r['mb_per_s']:>6.1f} {r['peak_rss_mb']:>7,.0f} {r['ratio']:>5.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
