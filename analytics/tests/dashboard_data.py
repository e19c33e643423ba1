"""Buyers and visitors fixtures for the dashboard tests: pandas frames written straight to Parquet
with Dataset / DatasetVersion rows (no ingestion), so the tests can compute every expected number
with pandas on the very same frame."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pandas as pd
import pyarrow as pa

from datasets import storage
from datasets.models import Dataset, DatasetVersion, Kind
from datasets.tests.page_helpers import parquet_write

XSS_VALUE = "<img src=x onerror=alert(1)>"
XSS_COLUMN = "<b>promo</b><img src=x onerror=alert(2)>"
START = date(2024, 1, 1)

ARROW = {
    "text": pa.string(),
    "decimal": pa.float64(),
    "date": pa.date32(),
    "boolean": pa.bool_(),
    "integer": pa.int64(),
}

BUYER_COLUMNS = [
    ("email", "text", "buyer_key"),
    ("order_id", "text", "order_id"),
    ("order_date", "date", "order_date"),
    ("revenue", "decimal", "revenue"),
    ("refund", "decimal", "refund"),
    ("channel", "text", "channel"),
    ("campaign", "text", "campaign"),
    ("gender", "text", "gender"),
    ("age_range", "text", "age_range"),
    ("income_range", "text", "income_range"),
    ("state", "text", "state"),
    ("credit_rating", "text", "credit_rating"),
    ("homeowner", "boolean", "homeowner"),
    ("tier", "text", None),  # a custom categorical column
    (XSS_COLUMN, "text", None),
]
VISITOR_COLUMNS = [
    ("email", "text", "visitor_key"),
    ("visit_date", "date", "event_date"),
    ("channel", "text", "channel"),
    ("converted", "boolean", "converted"),
    ("visitor_type", "text", "new_returning"),
    ("gender", "text", "gender"),
    ("age_range", "text", "age_range"),
    ("income_range", "text", "income_range"),
    ("state", "text", "state"),
]


def buyers_frame(rows: int = 240, seed: int = 5) -> pd.DataFrame:
    rnd = random.Random(seed)
    people = [f"p{i}@example.com" for i in range(90)]
    records = []
    for i in range(rows):
        revenue = round(rnd.uniform(5, 300), 2) if rnd.random() > 0.05 else 0.0
        records.append(
            {
                "email": rnd.choice(people),
                "order_id": f"o{i}",
                "order_date": START + timedelta(days=rnd.randint(0, 300)),
                "revenue": revenue,
                "refund": round(revenue * 0.5, 2) if rnd.random() < 0.1 else 0.0,
                "channel": rnd.choice(["Email", "Search", "Social", "Direct", XSS_VALUE]),
                "campaign": rnd.choice(["Spring", "Summer", "Fall", "Winter"]),
                "gender": rnd.choice(["F", "M", None]),
                "age_range": rnd.choice(["18-24", "25-34", "35-44", "45-54", "65+"]),
                "income_range": rnd.choice(["Under $25K", "$25K-$49K", "$50K-$99K", "$100K+"]),
                "state": rnd.choice(["CA", "NY", "TX", "FL", "WA"]),
                "credit_rating": rnd.choice(["Excellent", "Good", "Fair", "Poor"]),
                "homeowner": rnd.choice([True, False]),
                "tier": rnd.choice(["gold", "silver"]),
                XSS_COLUMN: rnd.choice(["a", "b"]),
            }
        )
    return pd.DataFrame.from_records(records)


def visitors_frame(rows: int = 400, seed: int = 9) -> pd.DataFrame:
    rnd = random.Random(seed)
    # Half the buyers' people visit, plus people who never buy.
    people = [f"p{i}@example.com" for i in range(0, 90, 2)] + [f"v{i}@example.com" for i in range(80)]
    return pd.DataFrame.from_records(
        [
            {
                "email": rnd.choice(people),
                "visit_date": START + timedelta(days=rnd.randint(0, 300)),
                "channel": rnd.choice(["Email", "Search", "Social"]),
                "converted": rnd.random() < 0.2,
                "visitor_type": rnd.choice(["New", "Returning"]),
                "gender": rnd.choice(["F", "M"]),
                "age_range": rnd.choice(["18-24", "25-34", "35-44"]),
                "income_range": rnd.choice(["Under $25K", "$25K-$49K"]),
                "state": rnd.choice(["CA", "NY", "TX", "OR"]),
            }
            for _ in range(rows)
        ]
    )


def dataset_from_frame(*, workspace, kind: str, frame: pd.DataFrame, columns, name: str = "", versions: int = 1):
    """A dataset of `kind` whose `versions` versions all hold `frame` (the last one current)."""
    schema = pa.schema([(n, ARROW[t]) for n, t, _ in columns])
    table = pa.Table.from_pandas(frame[[n for n, _, _ in columns]], schema=schema, preserve_index=False)
    dataset = Dataset.objects.create(workspace=workspace, name=name or f"{kind} data", kind=kind)
    version = None
    for number in range(1, versions + 1):
        prefix = storage.version_prefix_new(workspace_id=workspace.pk, dataset_id=dataset.pk, number=number)
        key = f"{prefix}/{storage.DATA_FILE}"
        parquet_write(key, table)
        version = DatasetVersion.objects.create(
            workspace=workspace,
            dataset=dataset,
            number=number,
            parquet_key=key,
            row_count=table.num_rows,
            column_count=table.num_columns,
            columns=[{"name": n, "type": t, "field": f, "null_rate": 0.0} for n, t, f in columns],
        )
    dataset.current_version = version
    dataset.save(update_fields=["current_version", "updated_at"])
    return dataset


def buyers_dataset(*, workspace, frame: pd.DataFrame | None = None, columns=None, **kwargs):
    frame = buyers_frame() if frame is None else frame
    return dataset_from_frame(
        workspace=workspace, kind=Kind.BUYERS, frame=frame, columns=columns or BUYER_COLUMNS, **kwargs
    )


def visitors_dataset(*, workspace, frame: pd.DataFrame | None = None, **kwargs):
    frame = visitors_frame() if frame is None else frame
    return dataset_from_frame(workspace=workspace, kind=Kind.VISITORS, frame=frame, columns=VISITOR_COLUMNS, **kwargs)
