"""Canonical fields per kind (DESIGN.md §5), with the header synonyms that suggest them."""

from __future__ import annotations

from dataclasses import dataclass

VISITORS = "visitors"
BUYERS = "buyers"
COMBOS = "combos"
LEADS = "leads"
CHAT_SESSIONS = "chat_sessions"
CUSTOM = "custom"
KINDS = (VISITORS, BUYERS, COMBOS, LEADS, CHAT_SESSIONS, CUSTOM)
ALL_KINDS = frozenset(KINDS)

# What a column must look like to take a field.
ANY = "any"
BOOL = "bool"  # boolean, or integers that are only 0/1
DATE = "date"  # date or datetime
NUMBER = "number"  # integer, decimal, money, percent
INT = "int"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kinds: frozenset[str]
    synonyms: tuple[str, ...]
    accepts: str = ANY
    weight: int = 1  # evidence this field gives for its kinds; demographics give none
    transform: str | None = None  # e.g. "age_bucket": the raw column is kept, a bucket is derived


def _f(name, kinds, synonyms, accepts=ANY, weight=1, transform=None) -> FieldSpec:  # noqa: PLR0917 - table rows
    return FieldSpec(name, frozenset(kinds), tuple(synonyms), accepts, weight, transform)


_V, _B, _C, _L, _CH = {VISITORS}, {BUYERS}, {COMBOS}, {LEADS}, {CHAT_SESSIONS}
FIELDS: tuple[FieldSpec, ...] = (
    # visitors
    _f(
        "visitor_key",
        _V,
        [
            "visitor id",
            "visitor key",
            "visitor",
            "user id",
            "userid",
            "cookie id",
            "device id",
            "email",
            "email address",
            "hashed email",
            "email hash",
            "phone",
        ],
    ),
    _f(
        "event_date",
        _V,
        ["event date", "visit date", "date", "timestamp", "session date", "visit time", "event time", "created at"],
        DATE,
    ),
    _f(
        "channel",
        _V | _B,
        [
            "channel",
            "utm source",
            "utm medium",
            "source",
            "medium",
            "traffic source",
            "traffic type",
            "marketing channel",
            "acquisition channel",
        ],
    ),
    _f("campaign", _V | _B, ["campaign", "utm campaign", "campaign name", "campaign id"]),
    _f(
        "converted",
        _V,
        [
            "converted",
            "conversion",
            "y",
            "revenue",
            "purchased",
            "purchase",
            "response",
            "subscribed",
            "outcome",
            "is converted",
            "made purchase",
            "converted flag",
        ],
        BOOL,
        3,
    ),
    _f(
        "new_returning",
        _V,
        [
            "visitor type",
            "new returning",
            "new or returning",
            "returning",
            "is returning",
            "new visitor",
            "returning visitor",
            "new vs returning",
        ],
        ANY,
        2,
    ),
    # buyers
    _f(
        "buyer_key",
        _B,
        [
            "customer id",
            "buyer id",
            "customer",
            "client id",
            "customer email",
            "buyer email",
            "customer number",
            "email",
        ],
    ),
    # Not bare "order": topic flags such as "Order Cancellation" would read as order ids.
    _f(
        "order_id",
        _B,
        [
            "order id",
            "invoice",
            "invoice no",
            "invoice number",
            "order number",
            "transaction id",
            "order no",
            "receipt id",
        ],
        ANY,
        3,
    ),
    _f(
        "order_date",
        _B,
        ["order date", "invoice date", "purchase date", "transaction date", "date", "order time"],
        DATE,
    ),
    _f(
        "revenue",
        _B,
        [
            "revenue",
            "total",
            "amount",
            "sales",
            "order total",
            "order value",
            "gross",
            "subtotal",
            "net sales",
            "total price",
            "order amount",
        ],
        NUMBER,
        2,
    ),
    _f("refund", _B, ["refund", "refunded", "refund amount", "returned", "return amount", "is refunded"], ANY, 2),
    # combos
    _f(
        "visitors_count",
        _C,
        ["visitors", "visitor count", "unique visitors", "sessions", "visits", "num visitors"],
        INT,
        3,
    ),
    _f(
        "purchasers_count",
        _C,
        ["purchasers", "buyers", "purchaser count", "buyer count", "num purchasers", "customers"],
        INT,
        3,
    ),
    # leads
    _f("lead_name", _L, ["name", "full name", "first name", "contact name", "lead name"]),
    _f("lead_phone", _L, ["phone", "phone number", "mobile", "telephone", "cell"]),
    _f("lead_email", _L, ["email", "email address", "e mail"]),
    _f("lead_staff", _L, ["staff", "assigned to", "owner", "sales rep", "agent"]),
    _f("lead_source", _L, ["lead source", "source"]),
    _f("lead_event", _L, ["event", "event name"]),
    _f("lead_status", _L, ["status", "lead status", "stage"], ANY, 2),
    _f("lead_date", _L, ["created", "created date", "lead date", "date", "created at"], DATE),
    # chat sessions
    _f(
        "session_id",
        _CH,
        ["session id", "conversation id", "chat id", "thread id", "ticket id", "tweet id", "main tweet id"],
    ),
    _f("start_time", _CH, ["start time", "started at", "start", "created at", "session start"], DATE),
    _f("end_time", _CH, ["end time", "ended at", "end", "session end"], DATE),
    _f("country", _CH, ["country"], ANY, 0),
    _f("language", _CH, ["language", "lang"]),
    _f("messages", _CH, ["messages", "message count", "num messages", "turns"], INT),
    _f("sentiment", _CH, ["sentiment", "sentiment score"], ANY, 2),
    _f("escalated", _CH, ["escalated", "is escalated", "escalation"], BOOL, 2),
    _f("forwarded_hr", _CH, ["forwarded hr", "forwarded to hr", "hr forwarded"], BOOL, 2),
    _f("transcript", _CH, ["transcript", "text", "conversation", "chat text", "message text", "body"], ANY, 2),
    _f("avg_response_time", _CH, ["avg response time", "average response time", "response time"], NUMBER, 2),
    _f("tokens", _CH, ["tokens", "token count"], NUMBER),
    _f("token_cost", _CH, ["token cost"], NUMBER),
    _f("category", _CH, ["category", "topic", "intent"]),
    _f("initial_message", _CH, ["initial message", "first message"], ANY, 2),
    _f("user_rating", _CH, ["user rating", "rating", "csat", "satisfaction"], NUMBER),
    # demographics (every kind)
    _f("gender", ALL_KINDS, ["gender", "sex"], ANY, 0),
    _f("age_range", ALL_KINDS, ["age range", "age group", "age bracket", "age band"], ANY, 0),
    _f("age_range", ALL_KINDS, ["age"], INT, 0, transform="age_bucket"),
    _f(
        "income_range",
        ALL_KINDS,
        ["income", "household income", "hh income", "income range", "annual income", "income bracket"],
        ANY,
        0,
    ),
    _f("net_worth", ALL_KINDS, ["net worth", "networth", "wealth"], ANY, 0),
    _f("credit_rating", ALL_KINDS, ["credit rating", "credit score"], ANY, 0),
    _f(
        "homeowner",
        ALL_KINDS,
        ["homeowner", "home owner", "home ownership", "owns home", "homeowner status", "own rent"],
        ANY,
        0,
    ),
    _f("marital_status", ALL_KINDS, ["marital status", "marital", "married"], ANY, 0),
    _f(
        "children",
        ALL_KINDS,
        ["children", "kids", "kidhome", "has children", "presence of children", "number of children", "num children"],
        ANY,
        0,
    ),
    _f(
        "state",
        ALL_KINDS,
        ["state", "province", "billing province", "billing state", "shipping state", "shipping province", "state code"],
        ANY,
        0,
    ),
    _f("city", ALL_KINDS, ["city", "town", "billing city", "shipping city"], ANY, 0),
    _f(
        "zip",
        ALL_KINDS,
        ["zip", "zipcode", "zip code", "postal code", "postcode", "billing zip", "shipping zip"],
        ANY,
        0,
    ),
)
# Fields whose values are stored as booleans when the column allows it.
BOOLEAN_FIELDS = frozenset({"converted", "escalated", "forwarded_hr", "homeowner"})
