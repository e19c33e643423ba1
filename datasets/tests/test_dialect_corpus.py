"""Dialect detection accuracy on the messy CSV corpus (CleverCSV paper's test set, 51 files).

Exact match of delimiter, quote character and escape character against the human-annotated
ground truth. CleverCSV itself scores 44/51 on these files (README): we must not do worse.
"""

from __future__ import annotations

import csv

from datasets.ingest import sniff_file

CLEVERCSV_SCORE = 44


def test_dialect_accuracy_on_messy_corpus(shared_data):
    corpus = shared_data / "messy-csv-corpus"
    with open(corpus / "ground_truth.csv", newline="", encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    detected = [sniff_file(corpus / row["file"]) for row in truth]
    hits = [
        (found.delimiter, found.quotechar, found.escapechar) == (row["delimiter"], row["quotechar"], row["escapechar"])
        for found, row in zip(detected, truth, strict=True)
    ]
    print(f"dialect exact-match accuracy: {sum(hits)}/{len(truth)} (CleverCSV: {CLEVERCSV_SCORE}/{len(truth)})")
    assert len(truth) == 51
    assert sum(hits) >= CLEVERCSV_SCORE
