"""Column mapping proposals: synonyms and value shapes."""

from __future__ import annotations

import pyarrow.parquet as pq

from datasets.ingest import IngestOptions, ingest_file, sniff_file
from datasets.ingest import types as T
from datasets.ingest.mapping import ColumnFacts, normalize_header, propose_mapping

TEXT = T.ColumnType(T.TEXT)
MONEY = T.ColumnType(T.MONEY, format="us")
DATE = T.ColumnType(T.DATE, format="iso")
BOOL = T.ColumnType(T.BOOLEAN)


def test_header_normalisation():
    assert [normalize_header(h) for h in ["InvoiceNo", "Dt_Customer", "CustomerID", "BounceRates in %"]] == [
        "invoice no",
        "dt customer",
        "customer id",
        "bounce rates in",
    ]


def test_synonyms_from_the_issue():
    proposal = propose_mapping(
        [
            ColumnFacts("Order ID", TEXT),
            ColumnFacts("Order Date", DATE),
            ColumnFacts("Total", MONEY),
            ColumnFacts("Household Income", TEXT),
            ColumnFacts("Billing Province", TEXT),
            ColumnFacts("Colour", TEXT),
        ]
    )
    assert proposal.kind == "buyers"
    assert proposal.as_dict() == {
        "Order ID": "order_id",
        "Order Date": "order_date",
        "Total": "revenue",
        "Household Income": "income_range",
        "Billing Province": "state",
        "Colour": None,
    }


def test_revenue_header_with_boolean_values_is_the_conversion_flag():
    proposal = propose_mapping([ColumnFacts("Revenue", BOOL), ColumnFacts("VisitorType", TEXT)])
    assert proposal.as_dict() == {"Revenue": "converted", "VisitorType": "new_returning"}
    assert proposal.kind == "visitors"


def test_value_shapes_emails_and_gender():
    proposal = propose_mapping(
        [
            ColumnFacts("contact", TEXT, emails=True),
            ColumnFacts("s", TEXT, samples=("F", "M", "female")),
            ColumnFacts("Visit Date", DATE),
            ColumnFacts("converted", BOOL),
        ]
    )
    assert proposal.as_dict() == {
        "contact": "visitor_key",
        "s": "gender",
        "Visit Date": "event_date",
        "converted": "converted",
    }
    assert [p.confidence for p in proposal.columns] == [0.6, 0.6, 0.95, 0.95]


def test_unrecognised_columns_make_a_custom_kind():
    proposal = propose_mapping([ColumnFacts("foo", TEXT), ColumnFacts("bar", TEXT)])
    assert proposal.kind == "custom" and proposal.as_dict() == {"foo": None, "bar": None}
    assert proposal.confident is False


def test_sniff_returns_types_samples_and_mapping(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text(
        "Full Name,Email,Phone,Lead Status,Created Date\nAna,a@x.com,555-1000,New,2024-01-02\n"
        "Bo,b@x.com,555-2000,Won,2024-01-03\n"
    )
    sniffed = sniff_file(path)
    assert sniffed.kind == "leads"
    assert [(c.name, c.type, c.field) for c in sniffed.columns] == [
        ("Full Name", "text", "lead_name"),
        ("Email", "text", "lead_email"),
        ("Phone", "text", "lead_phone"),
        ("Lead Status", "text", "lead_status"),
        ("Created Date", "date", "lead_date"),
    ]
    assert sniffed.preview == [
        ["Ana", "a@x.com", "555-1000", "New", "2024-01-02"],
        ["Bo", "b@x.com", "555-2000", "Won", "2024-01-03"],
    ]


def test_confirmed_mapping_and_forced_type_are_applied(tmp_path):
    path = tmp_path / "v.csv"
    path.write_text("flag,code,sex\n1,10,f\n0,20,M\n1,x,F\n")
    result = ingest_file(
        path,
        out_dir=tmp_path / "out",
        mapping={"flag": "converted", "code": None, "sex": "gender"},
        options=IngestOptions(column_types={"code": "integer"}),
    )
    rows = pq.read_table(result.parquet_path).to_pylist()
    assert rows == [{"flag": True, "code": 10, "sex": "Female"}, {"flag": False, "code": 20, "sex": "Male"}]
    assert result.receipt.rejected_line_numbers == [4]
