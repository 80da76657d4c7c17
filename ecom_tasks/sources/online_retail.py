"""UCI Online Retail (I and II) invoice lines as canonical events, items and users.

Reads both published layouts, detected from the header:

- "Online Retail II": Invoice, StockCode, Description, Quantity, InvoiceDate, Price, Customer ID, Country
- "Online Retail":    InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country

as CSV, CSV.gz or xlsx (every sheet of a workbook is read, in order). :func:`map_lines` is the pure
core that turns typed lines into tables; :func:`read_online_retail` adds the file handling.

Mapping (one event per invoice line):

- ``ts`` = InvoiceDate taken as UTC. The source has no time zone: the times are the UK shop's
  local clock, so summer times are an hour off true UTC; every downstream day split uses this.
- ``event_id`` = ``{invoice}-{k}`` where ``k`` is the line's position within its invoice in file
  order: deterministic and unique even though the source repeats identical lines.
- ``user_id`` = Customer ID as a string (no ``.0``); missing customers are KEPT as anonymous events.
- ``session_id`` = ``order_id`` = Invoice; ``item_id`` = StockCode stripped and upper-cased.
- ``event_type`` = return for cancellations (Invoice starting with "C", Quantity stays negative),
  purchase otherwise; ``unit_price`` = Price; ``country`` = Country ("Unspecified" -> null).
- Items (from kept lines, as first seen): ``first_seen`` = first line, ``title`` = first non-empty
  Description, ``price`` = first positive Price (0.0 if never positive), ``category`` null (the
  source has none). Users: first line and first non-null country of each known customer.

Dirt, each handled deliberately; exclusions are counted in ``stats`` under ``excluded_*_lines`` in
this order of precedence, so ``lines_read == events + sum(exclusions)``:

- ``excluded_after_until_lines``: lines after ``until``.
- ``excluded_overlap_lines``: lines of a later sheet whose invoice already appeared in an earlier
  sheet (the two sheets of the real II workbook overlap on 2010-12-01..09).
- ``excluded_adjustment_lines``: Invoice starting with "A" (bad-debt adjustments).
- ``excluded_non_product_lines``: postage, carriage, fees, discounts, manual lines, samples,
  vouchers, tests (:data:`NON_PRODUCT_CODE`), also per code as ``non_product_code.{CODE}``.
- ``excluded_stock_writeoff_lines``: non-cancellation lines with Quantity <= 0 (zero-priced stock
  write-offs: "damaged", "missing", ...; they are not customer events).
- ``excluded_zero_price_lines``: anonymous non-cancellation lines with Price 0 (stock bookkeeping,
  mostly without a description). Zero-priced lines of a known customer are KEPT as free items
  (counted in ``zero_price_kept_lines``), which the contract allows (unit_price >= 0).

Kept for validation to judge: identical repeated lines (counted in ``duplicate_lines``; the
published invoice totals include them); cancellations with a positive quantity and negative prices
outside adjustments (none in the real II file; validation quarantines them).

``invoices``, ``customers``, ``cancellation_lines`` and ``anonymous_lines`` count the lines of the
period (before any exclusion but ``until`` and sheet overlap), so they match published figures.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ecom_tasks.contract import (
    CATEGORY,
    COUNTRY,
    EVENT_ID,
    EVENT_TYPE,
    EVENTS,
    FIRST_SEEN,
    ITEM_ID,
    ITEMS,
    ORDER_ID,
    PRICE,
    PURCHASE,
    QUANTITY,
    RETURN,
    SESSION_ID,
    STRING_DTYPE,
    TITLE,
    TS,
    UNIT_PRICE,
    USER_ID,
    USERS,
    conform,
)
from ecom_tasks.errors import SourceError
from ecom_tasks.sources import _io
from ecom_tasks.sources.base import ShopTables

log = logging.getLogger(__name__)

# Source columns of "Online Retail II"; the core works on these names.
INVOICE, STOCK_CODE, DESCRIPTION = "Invoice", "StockCode", "Description"
SRC_QUANTITY, INVOICE_DATE, SRC_PRICE = "Quantity", "InvoiceDate", "Price"
CUSTOMER, SRC_COUNTRY = "Customer ID", "Country"
SHEET = "_sheet"  # position of the sheet a line came from (0 for CSV)

FORMAT_II = "Online Retail II"
FORMAT_I = "Online Retail"
LAYOUTS: dict[str, tuple[str, ...]] = {
    FORMAT_II: (
        INVOICE,
        STOCK_CODE,
        DESCRIPTION,
        SRC_QUANTITY,
        INVOICE_DATE,
        SRC_PRICE,
        CUSTOMER,
        SRC_COUNTRY,
    ),
    FORMAT_I: (
        "InvoiceNo",
        STOCK_CODE,
        DESCRIPTION,
        SRC_QUANTITY,
        INVOICE_DATE,
        "UnitPrice",
        "CustomerID",
        SRC_COUNTRY,
    ),
}
_TEXT_COLUMNS = (INVOICE, STOCK_CODE, DESCRIPTION, CUSTOMER, SRC_COUNTRY)

# Built from the real files: every StockCode that does not start with a digit, except DCGS*
# (dotcom gift sets) and SP1002, which are real products with descriptions and prices.
NON_PRODUCT_CODE = (
    r"POST|DOT|C2|C3|M|D|S|B|CRUK|PADS|AMAZONFEE|BANK CHARGES|ADJUST\d*|TEST\d*|GIFT(?:_[0-9A-Z_]*)?"
)
# InvoiceDate layouts seen in published copies: ISO, or dd/dd/yyyy in the order the data shows.
DATE_FORMATS = ("ISO8601", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S")
MONTH_FIRST = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S")
DAY_FIRST = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S")
DATE_ORDERS = ("auto", "dayfirst", "monthfirst")
UNSPECIFIED_COUNTRY = "Unspecified"

EXCLUSIONS: tuple[str, ...] = (
    "excluded_after_until_lines",
    "excluded_overlap_lines",
    "excluded_adjustment_lines",
    "excluded_non_product_lines",
    "excluded_stock_writeoff_lines",
    "excluded_zero_price_lines",
)


def detect_layout(path: object, header: Sequence[str], where: str = "") -> str:
    """Which layout ``header`` is (extra columns are ignored); SourceError naming what is missing."""
    names = {str(c).strip() for c in header}
    missing = {fmt: [c for c in cols if c not in names] for fmt, cols in LAYOUTS.items()}
    for fmt, lacking in missing.items():
        if not lacking:
            return fmt
    closest = min(missing, key=lambda f: len(missing[f]))
    detail = "; ".join(f"{fmt} expects {list(LAYOUTS[fmt])} (missing {missing[fmt]})" for fmt in LAYOUTS)
    raise SourceError(path, f"{where}header matches no known layout: {detail}", column=missing[closest][0])


def _to_core_names(df: pd.DataFrame, layout: str) -> pd.DataFrame:
    actual = {str(c).strip(): c for c in df.columns}
    return pd.DataFrame(
        {core: df[actual[src]] for core, src in zip(LAYOUTS[FORMAT_II], LAYOUTS[layout], strict=True)}
    )


def date_formats(
    dates: pd.Series, path: object, column: str, locate: _io.Locate, date_order: str = "auto"
) -> tuple[str, ...]:
    """The InvoiceDate formats to parse ``dates`` with, deciding day/month order from the data.

    ISO dates need no decision. For ``dd/dd/yyyy`` dates a first field above 12 means day first
    and a second field above 12 month first; when no value decides (every day of the month is
    12 or less) the order is ambiguous and the file is refused unless ``date_order`` says it:
    reading 01/12/2009 month first would silently land 1 December on 12 January.
    """
    if pd.api.types.is_datetime64_any_dtype(dates.dtype) or date_order not in DATE_ORDERS:
        return DATE_FORMATS
    text = _io.clean_strings(dates)
    parts = text.str.extract(r"^\s*(\d{1,2})/(\d{1,2})/\d{2,4}", expand=True)
    has = parts[0].notna()
    if not has.any():
        return DATE_FORMATS[:1]
    first = pd.to_numeric(parts[0]).to_numpy()
    second = pd.to_numeric(parts[1]).to_numpy()
    day_first = first > 12
    month_first = second > 12
    if day_first.any() and month_first.any():
        i, j = int(day_first.argmax()), int(month_first.argmax())
        raise SourceError(
            path,
            f"dates in both day/month orders: {text.iloc[i]!r} at {locate(i)} is day first, "
            f"{text.iloc[j]!r} at {locate(j)} month first; fix the file to one order",
            column=column,
        )
    found = "dayfirst" if day_first.any() else "monthfirst" if month_first.any() else None
    if date_order == "auto":
        if found is None:
            i = int(has.to_numpy().argmax())
            raise SourceError(
                path,
                f"ambiguous day/month order: every date has both fields <= 12 (e.g. {text.iloc[i]!r} at "
                f"{locate(i)} could be either), so the file cannot say which it is. Nothing was landed. "
                "Set date_order='dayfirst' (UK/EU: 01/12/2009 is 1 December) or 'monthfirst' (US)",
                column=column,
            )
        date_order = found
    elif found is not None and found != date_order:
        mask = day_first if found == "dayfirst" else month_first
        i = int(mask.argmax())
        raise SourceError(
            path,
            f"date_order is {date_order!r} but {text.iloc[i]!r} at {locate(i)} can only be {found}",
            column=column,
        )
    return DATE_FORMATS[:1] + (DAY_FIRST if date_order == "dayfirst" else MONTH_FIRST)


def _typed(
    df: pd.DataFrame, path: object, layout: str, locate: _io.Locate, date_order: str = "auto"
) -> pd.DataFrame:
    """Parse numbers and dates and normalise text; errors quote the source's own column names."""
    src = dict(zip(LAYOUTS[FORMAT_II], LAYOUTS[layout], strict=True))
    if df.empty:
        raise SourceError(path, "has a header but no data lines: nothing to land")
    out = pd.DataFrame(index=df.index)
    out[INVOICE] = _io.id_strings(df[INVOICE])
    out[STOCK_CODE] = _io.clean_strings(df[STOCK_CODE]).str.upper()
    for col in (INVOICE, STOCK_CODE):
        missing = out[col].isna()
        if missing.any():
            i = int(missing.to_numpy().argmax())
            raise SourceError(path, f"missing value at {locate(i)}", column=src[col])
    out[DESCRIPTION] = _io.clean_strings(df[DESCRIPTION])
    for col, integer in ((SRC_QUANTITY, True), (SRC_PRICE, False)):
        out[col] = _io.parse_number(df[col], path=path, column=src[col], locate=locate, integer=integer)
    formats = date_formats(df[INVOICE_DATE], path, src[INVOICE_DATE], locate, date_order)
    out[INVOICE_DATE] = _io.parse_timestamps(
        df[INVOICE_DATE], path=path, column=src[INVOICE_DATE], locate=locate, formats=formats
    )
    out[CUSTOMER] = _io.id_strings(df[CUSTOMER])
    country = _io.clean_strings(df[SRC_COUNTRY])
    out[SRC_COUNTRY] = country.mask(country == UNSPECIFIED_COUNTRY)
    out[SHEET] = 0
    return out


def load_lines(path: Path | str, date_order: str = "auto") -> pd.DataFrame:
    """Read a CSV, CSV.gz or xlsx file of either layout as typed lines under the II column names."""
    fmt = _io.file_format(path, (_io.CSV, _io.CSV_GZ, _io.XLSX))
    if fmt == _io.XLSX:
        parts = []
        for k, (name, sheet) in enumerate(_io.read_xlsx(path).items()):
            layout = detect_layout(path, list(sheet.columns), where=f"sheet {name!r}: ")

            def locate(i: int, name: str = name) -> str:
                return f"sheet {name!r} row {i + 2}"

            lines = _typed(_to_core_names(sheet, layout), path, layout, locate, date_order)
            lines[SHEET] = k
            parts.append(lines)
        return pd.concat(parts, ignore_index=True)
    header = _io.csv_header(path)
    _io.check_csv_dialect(path, header)
    layout = detect_layout(path, header)
    actual = {c.strip(): c for c in header}
    # Text columns as strings; the parser infers the numbers and ISO dates itself, which is fast.
    text = {
        actual[src]: "str"
        for core, src in zip(LAYOUTS[FORMAT_II], LAYOUTS[layout], strict=True)
        if core in _TEXT_COLUMNS
    }
    raw = _io.read_csv(path, dtype=text)
    return _typed(_to_core_names(raw, layout), path, layout, _io.csv_row, date_order)


def _duplicated_count(*columns: np.ndarray) -> int:
    """How many rows repeat an earlier row on all ``columns`` (numeric arrays: hashing is cheap)."""
    return int(pd.DataFrame(dict(enumerate(columns))).duplicated().sum())


def _first_rows(codes: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(code, row of its first occurrence) for each code, among rows where ``mask`` holds."""
    rows = np.arange(len(codes)) if mask is None else np.flatnonzero(mask)
    masked = pd.Series(codes[rows])
    first = ~masked.duplicated().to_numpy()
    return masked.to_numpy()[first], rows[first]


def _pick(values: tuple[str, ...], codes: np.ndarray) -> pd.Series:
    """A string series of ``values[code]`` per row (cheaper than building Python strings)."""
    return pd.Series(pd.array(list(values), dtype=STRING_DTYPE).take(codes))


def map_lines(lines: pd.DataFrame, until: dt.date | None = None) -> ShopTables:
    """Turn typed invoice lines into canonical tables; pure, no I/O.

    Args:
        lines: as from :func:`load_lines`: the II column names with parsed values, UTC
            ``InvoiceDate``, and optionally ``_sheet`` (position of the sheet each line came from).
        until: last day (inclusive, UTC) to return.
    """
    n = len(lines)
    inv, code, cust = lines[INVOICE], lines[STOCK_CODE], lines[CUSTOMER]
    inv_key = pd.factorize(inv)[0]
    code_key = pd.factorize(code)[0]
    ts = lines[INVOICE_DATE]
    qty = lines[SRC_QUANTITY].to_numpy()
    price = lines[SRC_PRICE].to_numpy()
    cancel = inv.str.startswith("C").to_numpy(dtype=bool)
    anonymous = cust.isna().to_numpy()
    stats: dict[str, int] = {"lines_read": n}
    remaining = np.ones(n, dtype=bool)

    def exclude(mask: np.ndarray, key: str) -> np.ndarray:
        nonlocal remaining
        hit = mask & remaining
        stats[key] = int(hit.sum())
        remaining &= ~hit
        return hit

    after = (ts >= _io.day_end(until)).to_numpy(dtype=bool) if until else np.zeros(n, dtype=bool)
    exclude(after, EXCLUSIONS[0])
    sheet = lines[SHEET].to_numpy() if SHEET in lines else np.zeros(n, dtype=np.int64)
    overlap = np.zeros(n, dtype=bool)
    if n and sheet.max() > 0:
        overlap = sheet > pd.Series(sheet).groupby(inv_key).transform("min").to_numpy()
    exclude(overlap, EXCLUSIONS[1])
    window = remaining.copy()  # the period's lines, each once
    stats["invoices"] = int(np.count_nonzero(np.bincount(inv_key[window])))
    stats["customers"] = int(cust[window].nunique())
    stats["cancellation_lines"] = int((cancel & window).sum())
    stats["anonymous_lines"] = int((anonymous & window).sum())
    exclude(inv.str.startswith("A").to_numpy(dtype=bool), EXCLUSIONS[2])
    non_product = exclude(code.str.fullmatch(NON_PRODUCT_CODE).to_numpy(dtype=bool), EXCLUSIONS[3])
    for value, count in code[non_product].value_counts().items():
        stats[f"non_product_code.{value}"] = int(count)
    exclude(~cancel & (qty <= 0), EXCLUSIONS[4])
    zero = (price == 0) & ~cancel
    exclude(zero & anonymous, EXCLUSIONS[5])
    stats["zero_price_kept_lines"] = int((zero & remaining).sum())

    # Line position within its invoice over the whole file: the same whatever `until` is.
    position = pd.Series(inv_key).groupby(inv_key).cumcount().to_numpy()
    keep = np.flatnonzero(remaining)
    keep = keep[np.argsort(ts.to_numpy(dtype="datetime64[us]")[keep], kind="stable")]
    line_key = inv_key * (int(code_key.max(initial=0)) + 1) + code_key  # < 2**63 for any real file
    desc_key = pd.factorize(lines[DESCRIPTION])[0]
    stats["duplicate_lines"] = _duplicated_count(*(k[keep] for k in (line_key, desc_key, qty, price)))
    kept = lines.iloc[keep].reset_index(drop=True)
    is_return = cancel[keep]
    events = conform(
        pd.DataFrame(
            {
                EVENT_ID: kept[INVOICE] + "-" + pd.Series(position[keep]).astype("str"),
                TS: kept[INVOICE_DATE],
                USER_ID: kept[CUSTOMER],
                SESSION_ID: kept[INVOICE],
                ITEM_ID: kept[STOCK_CODE],
                EVENT_TYPE: _pick((PURCHASE, RETURN), is_return.astype(np.int64)),
                QUANTITY: kept[SRC_QUANTITY],
                UNIT_PRICE: kept[SRC_PRICE],
                ORDER_ID: kept[INVOICE],
                COUNTRY: kept[SRC_COUNTRY],
            }
        ),
        EVENTS,
    )
    items = _first_seen_items(events, kept[DESCRIPTION])
    users = _first_seen_users(events)
    stats.update(
        events=len(events),
        return_lines=int(is_return.sum()),
        anonymous_events=int(events[USER_ID].isna().sum()),
        items=len(items),
        users=len(users),
    )
    return ShopTables(events=events, items=items, users=users, stats=stats)


def _first_seen_items(events: pd.DataFrame, description: pd.Series) -> pd.DataFrame:
    """One row per item: first time seen, first non-empty description, first positive price.

    ``events`` are in time order. An item never sold at a positive price gets price 0.0 (the
    contract's price is not nullable).
    """
    codes, names = pd.factorize(events[ITEM_ID])
    _, first = _first_rows(codes)
    titled, title_row = _first_rows(codes, description.notna().to_numpy())
    priced, price_row = _first_rows(codes, (events[UNIT_PRICE] > 0).to_numpy())
    title = pd.Series(pd.NA, index=range(len(names)), dtype="string")
    title.iloc[titled] = description.iloc[title_row].to_numpy()
    price = np.zeros(len(names))
    price[priced] = events[UNIT_PRICE].to_numpy()[price_row]
    items = {
        ITEM_ID: names,
        TITLE: title,
        CATEGORY: pd.Series(pd.NA, index=range(len(names)), dtype="string"),  # no categories
        PRICE: price,
        FIRST_SEEN: events[TS].iloc[first].to_numpy(),
    }
    return conform(pd.DataFrame(items), ITEMS)


def _first_seen_users(events: pd.DataFrame) -> pd.DataFrame:
    """One row per known customer: first time seen and first non-null country."""
    codes, names = pd.factorize(events[USER_ID])  # anonymous rows get code -1
    known = codes >= 0
    _, first = _first_rows(codes, known)
    with_country, country_row = _first_rows(codes, known & events[COUNTRY].notna().to_numpy())
    country = pd.Series(pd.NA, index=range(len(names)), dtype="string")
    country.iloc[with_country] = events[COUNTRY].iloc[country_row].to_numpy()
    users = {USER_ID: names, FIRST_SEEN: events[TS].iloc[first].to_numpy(), COUNTRY: country}
    return conform(pd.DataFrame(users), USERS)


def read_online_retail(
    path: Path | str, until: dt.date | str | None = None, date_order: str = "auto"
) -> ShopTables:
    """Read a UCI Online Retail (I or II) CSV, CSV.gz or xlsx file as canonical tables.

    Args:
        path: the file; the layout is detected from the header, the format from the extension.
        until: last day (inclusive, UTC) to return; later lines are counted, not returned.
        date_order: ``auto``, ``dayfirst`` or ``monthfirst`` for dd/dd/yyyy dates
            (see :func:`date_formats`).

    Returns:
        Events in time order, items and users as first seen by the end of ``until``, and the
        counts described in the module docstring (``lines_read == events + exclusions``).
    """
    day = _io.as_day(until, "until")
    tables = map_lines(load_lines(path, date_order), day)
    log.info("read %s: %s", path, tables.stats)
    return tables
