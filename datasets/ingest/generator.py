"""Deterministic generator of realistic visitors and buyers CSV files, of any size.

Rows are produced in chunks and streamed to disk, so memory does not grow with the row count.
The same ``seed`` always gives the same bytes (it feeds the demo workspace and bench/).
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import random
from pathlib import Path

CHUNK = 50_000
START_DATE = dt.date(2024, 1, 1)
DAYS = 366

# (state, population in millions (2020 census, rounded), a large city, a 3-digit ZIP prefix).
STATES: tuple[tuple[str, float, str, str], ...] = (
    ("CA", 39.5, "Los Angeles", "900"),
    ("TX", 29.1, "Houston", "770"),
    ("FL", 21.5, "Miami", "331"),
    ("NY", 20.2, "New York", "100"),
    ("PA", 13.0, "Philadelphia", "191"),
    ("IL", 12.8, "Chicago", "606"),
    ("OH", 11.8, "Columbus", "432"),
    ("GA", 10.7, "Atlanta", "303"),
    ("NC", 10.4, "Charlotte", "282"),
    ("MI", 10.1, "Detroit", "482"),
    ("NJ", 9.3, "Newark", "071"),
    ("VA", 8.6, "Virginia Beach", "234"),
    ("WA", 7.7, "Seattle", "981"),
    ("AZ", 7.2, "Phoenix", "850"),
    ("MA", 7.0, "Boston", "021"),
    ("TN", 6.9, "Nashville", "372"),
    ("IN", 6.8, "Indianapolis", "462"),
    ("MD", 6.2, "Baltimore", "212"),
    ("MO", 6.2, "Kansas City", "641"),
    ("WI", 5.9, "Milwaukee", "532"),
    ("CO", 5.8, "Denver", "802"),
    ("MN", 5.7, "Minneapolis", "554"),
    ("SC", 5.1, "Columbia", "292"),
    ("AL", 5.0, "Birmingham", "352"),
    ("LA", 4.7, "New Orleans", "701"),
    ("KY", 4.5, "Louisville", "402"),
    ("OR", 4.2, "Portland", "972"),
    ("OK", 4.0, "Oklahoma City", "731"),
    ("CT", 3.6, "Hartford", "061"),
    ("UT", 3.3, "Salt Lake City", "841"),
    ("IA", 3.2, "Des Moines", "503"),
    ("NV", 3.1, "Las Vegas", "891"),
    ("AR", 3.0, "Little Rock", "722"),
    ("MS", 3.0, "Jackson", "392"),
    ("KS", 2.9, "Wichita", "672"),
    ("NM", 2.1, "Albuquerque", "871"),
    ("NE", 2.0, "Omaha", "681"),
    ("ID", 1.8, "Boise", "837"),
    ("WV", 1.8, "Charleston", "253"),
    ("HI", 1.5, "Honolulu", "968"),
    ("NH", 1.4, "Manchester", "031"),
    ("ME", 1.4, "Portland", "041"),
    ("RI", 1.1, "Providence", "029"),
    ("MT", 1.1, "Billings", "591"),
    ("DE", 1.0, "Wilmington", "198"),
    ("SD", 0.9, "Sioux Falls", "571"),
    ("ND", 0.8, "Fargo", "581"),
    ("AK", 0.7, "Anchorage", "995"),
    ("DC", 0.7, "Washington", "200"),
    ("VT", 0.6, "Burlington", "054"),
    ("WY", 0.6, "Cheyenne", "820"),
)
AGE_RANGES = (("18-24", 12), ("25-34", 18), ("35-44", 17), ("45-54", 16), ("55-64", 17), ("65+", 20))
INCOMES = (
    ("Under $25K", 17),
    ("$25K-$49K", 20),
    ("$50K-$74K", 17),
    ("$75K-$99K", 13),
    ("$100K-$149K", 16),
    ("$150K-$249K", 11),
    ("$250K+", 6),
)
NET_WORTHS = (
    ("Under $50K", 30),
    ("$50K-$99K", 12),
    ("$100K-$249K", 17),
    ("$250K-$499K", 14),
    ("$500K-$999K", 13),
    ("$1M+", 14),
)
CREDIT = (("Excellent", 22), ("Very Good", 25), ("Good", 21), ("Fair", 18), ("Poor", 14))
MARITAL = (("Married", 50), ("Single", 34), ("Divorced", 11), ("Widowed", 5))
CHILDREN = (("Yes", 40), ("No", 60))
HOMEOWNER = (("Y", 65), ("N", 35))
# Real files spell gender many ways; the loader normalises them.
GENDERS = (("Female", 40), ("Male", 38), ("F", 9), ("M", 9), ("Unknown", 4))
# (channel, share of visits, conversion rate)
CHANNELS = (
    ("Organic Search", 30, 0.045),
    ("Paid Search", 22, 0.065),
    ("Social", 18, 0.025),
    ("Email", 12, 0.09),
    ("Direct", 10, 0.055),
    ("Referral", 5, 0.05),
    ("Display", 3, 0.015),
)
CAMPAIGNS = {
    "Paid Search": ("Brand Search", "Generic Search", "Retargeting"),
    "Social": ("Spring Launch", "Summer Sale", "Influencer Q3"),
    "Email": ("Newsletter", "Cart Abandon", "Win-back"),
    "Display": ("Retargeting", "Prospecting"),
}
VISITOR_COLUMNS = [
    "visitor_id",
    "email",
    "visit_date",
    "channel",
    "campaign",
    "visitor_type",
    "converted",
    "gender",
    "age_range",
    "household_income",
    "net_worth",
    "credit_rating",
    "homeowner",
    "marital_status",
    "children",
    "state",
    "city",
    "zip",
]
BUYER_COLUMNS = [
    "customer_id",
    "order_id",
    "order_date",
    "channel",
    "campaign",
    "order_total",
    "refund_amount",
    "gender",
    "age_range",
    "household_income",
    "net_worth",
    "credit_rating",
    "homeowner",
    "marital_status",
    "children",
    "state",
    "city",
    "zip",
]


def _pick(rng: random.Random, table, k: int) -> list:
    values = [row[0] for row in table]
    weights = list(itertools.accumulate(row[1] for row in table))
    return rng.choices(values, cum_weights=weights, k=k)


def _demographics(rng: random.Random, k: int) -> list[list[str]]:
    states = rng.choices(range(len(STATES)), cum_weights=list(itertools.accumulate(s[1] for s in STATES)), k=k)
    zips = [STATES[i][3] + f"{rng.randrange(100):02d}" for i in states]
    return [
        _pick(rng, GENDERS, k),
        _pick(rng, AGE_RANGES, k),
        _pick(rng, INCOMES, k),
        _pick(rng, NET_WORTHS, k),
        _pick(rng, CREDIT, k),
        _pick(rng, HOMEOWNER, k),
        _pick(rng, MARITAL, k),
        _pick(rng, CHILDREN, k),
        [STATES[i][0] for i in states],
        [STATES[i][2] for i in states],
        zips,
    ]


def _dates(rng: random.Random, k: int) -> list[str]:
    return [(START_DATE + dt.timedelta(days=rng.randrange(DAYS))).isoformat() for _ in range(k)]


def generate_visitors(path: str | Path, rows: int, *, seed: int = 0) -> Path:
    """Write ``rows`` visitor sessions (one per row) to ``path`` and return it."""
    rng = random.Random(seed)
    path = Path(path)
    channel_rate = {name: rate for name, _share, rate in CHANNELS}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(VISITOR_COLUMNS)
        for start in range(0, rows, CHUNK):
            k = min(CHUNK, rows - start)
            ids = range(start + 1, start + k + 1)
            channels = _pick(rng, CHANNELS, k)
            campaigns = [rng.choice(CAMPAIGNS[c]) if c in CAMPAIGNS else "" for c in channels]
            converted = ["Yes" if rng.random() < channel_rate[c] else "No" for c in channels]
            returning = ["Returning" if rng.random() < 0.35 else "New" for _ in ids]
            columns = [
                [f"V{i:08d}" for i in ids],
                [f"visitor{i}@example.com" for i in ids],
                _dates(rng, k),
                channels,
                campaigns,
                returning,
                converted,
                *_demographics(rng, k),
            ]
            writer.writerows(zip(*columns, strict=True))
    return path


def generate_buyers(path: str | Path, rows: int, *, seed: int = 0) -> Path:
    """Write ``rows`` orders to ``path``: repeat buyers (a customer pool a third the size of the
    order count, skewed so some buy often), money written as "$1,234.50", ~6% refunds."""
    rng = random.Random(seed)
    path = Path(path)
    customers = max(1, rows // 3)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(BUYER_COLUMNS)
        for start in range(0, rows, CHUNK):
            k = min(CHUNK, rows - start)
            # Squaring a uniform draw skews towards low ids: those customers order repeatedly.
            buyer_ids = [int(customers * rng.random() ** 2) + 1 for _ in range(k)]
            channels = _pick(rng, CHANNELS, k)
            campaigns = [rng.choice(CAMPAIGNS[c]) if c in CAMPAIGNS else "" for c in channels]
            totals = [round(rng.lognormvariate(4.2, 0.8), 2) for _ in range(k)]
            refunds = [
                f"{(t if rng.random() < 0.5 else round(t * rng.uniform(0.1, 0.9), 2)):.2f}"
                if rng.random() < 0.06
                else "0.00"
                for t in totals
            ]
            columns = [
                [f"C{b:07d}" for b in buyer_ids],
                [f"ORD-{start + i + 1:09d}" for i in range(k)],
                _dates(rng, k),
                channels,
                campaigns,
                [f"${t:,.2f}" for t in totals],
                refunds,
                *_demographics(rng, k),
            ]
            writer.writerows(zip(*columns, strict=True))
    return path
