"""Receipt contents, JSON form and progress reporting."""

from __future__ import annotations

import json

from datasets.ingest import IngestOptions, ingest_file


def test_receipt_serialises_and_is_written_next_to_the_data(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("name;amount\nA;1\nA;1\nB;oops;x\nC;\n")
    result = ingest_file(path, out_dir=tmp_path / "out")
    stored = json.loads(result.receipt_path.read_text())
    assert stored == json.loads(result.receipt.to_json())
    assert (stored["rows_read"], stored["rows_loaded"], stored["rows_rejected"], stored["duplicates_removed"]) == (
        4,
        2,
        1,
        1,
    )
    assert stored["columns"][1] == {
        "name": "amount",
        "type": "integer",
        "format": None,
        "description": "",
        "null_count": 1,
        "null_rate": 0.5,
        "field": None,
        "source": None,
    }
    assert stored["delimiter"] == ";" and stored["header_row"] == 1 and stored["encoding"] == "ascii"
    assert {w["code"] for w in stored["warnings"]} == {"DUPLICATES_REMOVED", "ROWS_REJECTED"}
    assert result.rejected_rows_path.read_text().splitlines()[1] == '4,"expected 2 fields, found 3",B,oops,x'


def test_progress_is_reported_per_chunk(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("n\n" + "".join(f"{i}\n" for i in range(2_500)))
    events = []
    ingest_file(path, out_dir=tmp_path / "out", options=IngestOptions(chunk_rows=1_000), progress=events.append)
    reading = [e.rows_done for e in events if e.stage == "reading"]
    assert reading == [1_000, 2_000, 2_500]
    assert events[-1].stage == "done" and events[-1].rows_done == 2_500
    assert events[-1].bytes_done == events[-1].bytes_total == path.stat().st_size
