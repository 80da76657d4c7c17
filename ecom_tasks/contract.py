"""The canonical data contract: the `events`, `items` and `users` tables every source produces.

Column names live here and nowhere else (TFX ``features.py`` style): other modules import the
constants instead of repeating string literals.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ecom_tasks import catalog
from ecom_tasks.errors import ContractError

# --- column names -----------------------------------------------------------------------------
EVENT_ID = "event_id"
TS = "ts"
USER_ID = "user_id"
SESSION_ID = "session_id"
ITEM_ID = "item_id"
EVENT_TYPE = "event_type"
QUANTITY = "quantity"
UNIT_PRICE = "unit_price"
ORDER_ID = "order_id"
COUNTRY = "country"
TITLE = "title"
CATEGORY = "category"
PRICE = "price"
FIRST_SEEN = "first_seen"
ON_HAND = "on_hand"  # stock: units in the warehouse at the end of the day
ON_ORDER = "on_order"  # stock: units ordered from suppliers, not yet received

# --- event types ------------------------------------------------------------------------------
VIEW = "view"
ADD_TO_CART = "add_to_cart"
PURCHASE = "purchase"
RETURN = "return"
EVENT_TYPES: tuple[str, ...] = (VIEW, ADD_TO_CART, PURCHASE, RETURN)

# The canonical tables (their names live in the catalog; everything says c.EVENTS ...).
EVENTS, ITEMS, USERS = catalog.EVENTS, catalog.ITEMS, catalog.USERS
TABLES: tuple[str, ...] = (EVENTS, ITEMS, USERS)
# The optional stock snapshot of a landing day (not ingested: the forecast's inventory plan reads it).
STOCK = catalog.STOCK

TS_DTYPE = "datetime64[us, UTC]"
STRING_DTYPE = "string"


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    dtype: str  # "string", "int64", "float64" or TS_DTYPE
    nullable: bool = False


SCHEMAS: dict[str, tuple[Column, ...]] = {
    EVENTS: (
        Column(EVENT_ID, STRING_DTYPE),
        Column(TS, TS_DTYPE),
        Column(USER_ID, STRING_DTYPE, nullable=True),  # anonymous visitors
        Column(SESSION_ID, STRING_DTYPE),
        Column(ITEM_ID, STRING_DTYPE),
        Column(EVENT_TYPE, STRING_DTYPE),
        Column(QUANTITY, "int64"),
        Column(UNIT_PRICE, "float64"),
        Column(ORDER_ID, STRING_DTYPE, nullable=True),  # only purchases and returns have one
        Column(COUNTRY, STRING_DTYPE, nullable=True),
    ),
    ITEMS: (
        Column(ITEM_ID, STRING_DTYPE),
        Column(TITLE, STRING_DTYPE, nullable=True),
        Column(CATEGORY, STRING_DTYPE, nullable=True),
        Column(PRICE, "float64"),
        Column(FIRST_SEEN, TS_DTYPE),
    ),
    USERS: (
        Column(USER_ID, STRING_DTYPE),
        Column(FIRST_SEEN, TS_DTYPE),
        Column(COUNTRY, STRING_DTYPE, nullable=True),
    ),
    STOCK: (
        Column(ITEM_ID, STRING_DTYPE),
        Column(ON_HAND, "float64"),
        Column(ON_ORDER, "float64"),
    ),
}

PRIMARY_KEYS: dict[str, str] = {EVENTS: EVENT_ID, ITEMS: ITEM_ID, USERS: USER_ID, STOCK: ITEM_ID}


def columns(table: str) -> list[str]:
    """Return the canonical column names of ``table`` in order."""
    return [c.name for c in _schema(table)]


def dtypes(table: str) -> dict[str, str]:
    """Return ``{column: dtype}`` for ``table``."""
    return {c.name: c.dtype for c in _schema(table)}


def has_canonical_layout(df: pd.DataFrame, table: str) -> bool:
    """True when ``df`` has exactly the canonical columns, in order, with the canonical dtypes.

    A cheap check (no pass over the values) used to skip re-casting frames that already conform.
    """
    schema = _schema(table)
    if list(df.columns) != [col.name for col in schema]:
        return False
    return all(_dtype_ok(actual, col.dtype) for actual, col in zip(df.dtypes, schema, strict=True))


def empty_frame(table: str) -> pd.DataFrame:
    """An empty frame with the canonical columns and dtypes of ``table``."""
    return pd.DataFrame({c.name: pd.Series([], dtype=c.dtype) for c in _schema(table)})


def _schema(table: str) -> tuple[Column, ...]:
    try:
        return SCHEMAS[table]
    except KeyError:
        raise ContractError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}") from None


def _dtype_matches(series: pd.Series, dtype: str) -> bool:
    return _dtype_ok(series.dtype, dtype)


def _dtype_ok(actual: object, dtype: str) -> bool:
    if dtype == STRING_DTYPE:
        return pd.api.types.is_string_dtype(actual) and not pd.api.types.is_object_dtype(actual)
    if dtype == TS_DTYPE:
        return isinstance(actual, pd.DatetimeTZDtype) and str(actual.tz) == "UTC"
    if dtype == "int64":
        return pd.api.types.is_integer_dtype(actual)
    if dtype == "float64":
        return pd.api.types.is_float_dtype(actual)
    raise AssertionError(f"contract uses an unknown dtype {dtype!r}")


def contract_problems(df: pd.DataFrame, table: str) -> list[str]:
    """List every way ``df`` breaks the contract of ``table`` (empty when it conforms).

    Checks column presence and order-independent names, dtypes, nulls in non-nullable columns,
    unique primary keys and, for events, the event-type set.
    """
    schema = _schema(table)
    problems: list[str] = []
    expected = [c.name for c in schema]
    missing = [c for c in expected if c not in df.columns]
    extra = [c for c in df.columns if c not in expected]
    if missing:
        problems.append(f"{table}: missing column(s) {missing}")
    if extra:
        problems.append(f"{table}: unexpected column(s) {extra}")
    for col in schema:
        if col.name not in df.columns:
            continue
        series = df[col.name]
        if not _dtype_matches(series, col.dtype):
            problems.append(f"{table}.{col.name}: dtype is {series.dtype}, expected {col.dtype}")
        if not col.nullable:
            n_null = int(series.isna().sum())
            if n_null:
                problems.append(f"{table}.{col.name}: {n_null} null value(s) in a non-nullable column")
    key = PRIMARY_KEYS[table]
    if key in df.columns:
        n_dup = int(df[key].duplicated().sum())
        if n_dup:
            problems.append(f"{table}.{key}: {n_dup} duplicate key value(s)")
    if table == EVENTS and EVENT_TYPE in df.columns:
        bad = sorted(set(df[EVENT_TYPE].dropna().unique()) - set(EVENT_TYPES))
        if bad:
            problems.append(f"{table}.{EVENT_TYPE}: unknown value(s) {bad[:5]}; allowed {list(EVENT_TYPES)}")
    return problems


def check_frame(df: pd.DataFrame, table: str, *, where: str = "") -> None:
    """Raise :class:`ContractError` naming every problem if ``df`` does not conform to ``table``.

    Args:
        df: the frame to check.
        table: one of ``events``, ``items``, ``users``.
        where: the file or partition the frame came from, quoted in the message.
    """
    problems = contract_problems(df, table)
    if problems:
        origin = f" in {where}" if where else ""
        raise ContractError(f"{len(problems)} contract problem(s){origin}: " + "; ".join(problems))


def conform(df: pd.DataFrame, table: str, *, where: str = "") -> pd.DataFrame:
    """Return ``df`` with exactly the canonical columns, in order, cast to the canonical dtypes.

    Raises :class:`ContractError` naming the column when a column is missing or a value cannot be
    cast (for example a non-numeric quantity or an unparseable timestamp).
    """
    schema = _schema(table)
    origin = f" in {where}" if where else ""
    missing = [c.name for c in schema if c.name not in df.columns]
    if missing:
        raise ContractError(f"{table}{origin}: missing column(s) {missing}")
    out = {}
    for col in schema:
        series = df[col.name]
        try:
            out[col.name] = _cast(series, col.dtype)
        except (ValueError, TypeError) as exc:
            raise ContractError(f"{table}.{col.name}{origin}: cannot convert to {col.dtype}: {exc}") from exc
    return pd.DataFrame(out, index=pd.RangeIndex(len(df)))


def _cast(series: pd.Series, dtype: str) -> pd.Series:
    series = series.reset_index(drop=True)
    if dtype == TS_DTYPE:
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            return series.dt.tz_convert("UTC").astype(TS_DTYPE)
        return pd.to_datetime(series, utc=True, format="ISO8601").astype(TS_DTYPE)
    if dtype == "int64":
        numeric = pd.to_numeric(series, errors="raise")
        if numeric.isna().any():
            raise ValueError(f"{int(numeric.isna().sum())} missing value(s)")
        if pd.api.types.is_float_dtype(numeric) and not (numeric == numeric.round()).all():
            raise ValueError("non-integer value(s)")
        return numeric.astype("int64")
    if dtype == "float64":
        return pd.to_numeric(series, errors="raise").astype("float64")
    return series.astype(STRING_DTYPE)
