"""Shared file helpers of the file-based source adapters: open, detect format, parse columns.

Every failure becomes a :class:`~ecom_tasks.errors.SourceError` naming the file and, where one is
at fault, the column, with an example row and value. Paths may be local paths or fsspec URIs.
"""

from __future__ import annotations

import datetime as dt
import gzip
import zlib
from collections.abc import Callable, Sequence

import fsspec
import pandas as pd

from ecom_tasks.contract import STRING_DTYPE, TS_DTYPE
from ecom_tasks.errors import ConfigError, SourceError

# Extensions the adapters understand, longest first so "csv.gz" wins over "gz".
CSV, CSV_GZ, XLSX, PARQUET = "csv", "csv.gz", "xlsx", "parquet"
FORMATS: tuple[str, ...] = (CSV_GZ, CSV, XLSX, PARQUET)

Locate = Callable[[int], str]
"""Turns a 0-based row position of a frame into words a person can find in the file."""


def csv_row(i: int) -> str:
    """Location of data row ``i`` (0-based) of a CSV file with one header line."""
    return f"row {i + 1} (line {i + 2})"


def file_format(path: object, allowed: Sequence[str] = FORMATS) -> str:
    """The format of ``path`` from its extension (case-insensitive); SourceError if not allowed."""
    name = str(path).lower()
    for fmt in FORMATS:
        if name.endswith("." + fmt):
            if fmt in allowed:
                return fmt
            break
    expected = ", ".join("." + f for f in allowed)
    raise SourceError(path, f"unknown extension; expected one of {expected}")


def check_readable(path: object) -> None:
    """Raise SourceError if ``path`` does not exist or is not a file."""
    try:
        fs, p = fsspec.core.url_to_fs(str(path))
        ok = fs.isfile(p)
    except OSError as exc:
        raise SourceError(path, f"cannot access the file: {exc}") from exc
    if not ok:
        raise SourceError(path, "file not found")


def as_day(value: object, name: str) -> dt.date | None:
    """``None``, a date, or a ``YYYY-MM-DD`` string as a date; ConfigError naming ``name`` otherwise."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a date in YYYY-MM-DD form") from None


def day_end(day: dt.date) -> pd.Timestamp:
    """The first instant after ``day`` in UTC (exclusive upper bound of an inclusive day)."""
    return pd.Timestamp(day + dt.timedelta(days=1), tz="UTC")


def _read_failure(path: object, exc: BaseException) -> SourceError:
    if isinstance(exc, FileNotFoundError):
        return SourceError(path, "file not found")
    if isinstance(exc, EOFError | gzip.BadGzipFile | zlib.error):
        return SourceError(path, f"corrupt or truncated gzip data: {exc}")
    if isinstance(exc, pd.errors.EmptyDataError):
        return SourceError(path, "file is empty (no header line)")
    if isinstance(exc, pd.errors.ParserError):
        return SourceError(path, f"malformed CSV: {exc}")
    return SourceError(path, f"cannot read the file: {type(exc).__name__}: {exc}")


_READ_ERRORS = (OSError, EOFError, zlib.error, ValueError, pd.errors.ParserError)


def _has_bytes(df: pd.DataFrame) -> bool:
    # The pyarrow CSV reader turns a column with invalid UTF-8 into raw bytes instead of failing.
    for col in df.columns:
        if df[col].dtype == object:
            values = df[col].dropna()
            if len(values) and isinstance(values.iloc[0], bytes):
                return True
    return False


_BOM_LATIN1 = "\ufeff".encode().decode("latin-1")


def csv_header(path: object) -> list[str]:
    """The column names of a CSV/CSV.gz file (first line only), without a UTF-8 byte-order mark."""
    check_readable(path)
    try:
        names = [str(c) for c in pd.read_csv(path, nrows=0, encoding="latin-1").columns]
    except _READ_ERRORS as exc:
        raise _read_failure(path, exc) from exc
    if names and names[0].startswith(_BOM_LATIN1):
        names[0] = names[0][len(_BOM_LATIN1) :]  # a UTF-8 byte-order mark (Excel's "CSV UTF-8")
    return names


def check_csv_dialect(path: object, header: Sequence[str]) -> None:
    """SourceError naming a ``;`` separator (a European export, with decimal commas): not CSV here."""
    if len(header) == 1 and header[0].count(";") >= 2:
        raise SourceError(
            path,
            f"the header {header[0][:80]!r} is separated by ';' (a European-locale export, whose "
            "numbers usually have decimal commas): export the file comma-separated with '.' as "
            "the decimal point",
        )


def read_csv(path: object, dtype: dict[str, str] | str | None = None) -> pd.DataFrame:
    """Read a CSV or CSV.gz file; empty fields are null; UTF-8, falling back to Latin-1.

    Uses the multi-threaded pyarrow parser, which also infers numbers and ISO timestamps.
    """
    check_readable(path)
    for encoding in ("utf-8", "latin-1"):
        try:
            df = pd.read_csv(
                path, dtype=dtype, keep_default_na=False, na_values=[""], engine="pyarrow", encoding=encoding
            )
        except _READ_ERRORS as exc:
            if encoding == "utf-8" and ("UTF8" in str(exc) or isinstance(exc, UnicodeDecodeError)):
                continue  # not UTF-8 (the older Online Retail copies are Latin-1)
            raise _read_failure(path, exc) from exc
        if encoding == "utf-8" and _has_bytes(df):
            continue
        return df
    raise AssertionError("unreachable")


def read_xlsx(path: object) -> dict[str, pd.DataFrame]:
    """Every sheet of an xlsx workbook, all cells as strings (empty cells null), in sheet order."""
    check_readable(path)
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False, na_values=[""])
    except Exception as exc:  # openpyxl raises many types (BadZipFile, KeyError, InvalidFileException)
        raise SourceError(path, f"not a readable xlsx workbook: {type(exc).__name__}: {exc}") from exc
    return {str(name): df for name, df in sheets.items()}


def read_parquet(path: object) -> pd.DataFrame:
    """Read a Parquet file; SourceError naming it when it is missing or corrupt."""
    check_readable(path)
    try:
        return pd.read_parquet(str(path), engine="pyarrow")
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise SourceError(path, f"not a readable Parquet file: {type(exc).__name__}: {exc}") from exc


def clean_strings(series: pd.Series, *, strip: bool = True) -> pd.Series:
    """As a string series, optionally stripped, with empty strings turned into nulls."""
    out = series.astype(STRING_DTYPE)
    if strip:
        out = out.str.strip()
    return out.mask(out == "")


def id_strings(series: pd.Series) -> pd.Series:
    """Identifiers as strings: stripped, empty -> null, and a float artefact ``"123.0"`` -> ``"123"``."""
    out = clean_strings(series)
    if out.str.endswith(".0").any():
        out = out.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
    return out


def _first(mask: pd.Series) -> int:
    return int(mask.to_numpy().argmax())


def parse_number(
    series: pd.Series, *, path: object, column: str, locate: Locate, integer: bool, strict: bool = False
) -> pd.Series:
    """Parse a column as int64 (``integer``) or float64; no missing values allowed.

    Strings are parsed; with ``strict`` (typed files such as Parquet) the column must already
    have a numeric dtype. Errors name the file, the column, and the first bad row and value.
    """
    if pd.api.types.is_bool_dtype(series.dtype) or (
        strict and not pd.api.types.is_numeric_dtype(series.dtype)
    ):
        expected = "int64" if integer else "float64"
        raise SourceError(path, f"has type {series.dtype}, expected {expected}", column=column)
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series
    else:
        text = clean_strings(series)
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna() & text.notna()
        if bad.any():
            i = _first(bad)
            raise SourceError(path, f"non-numeric value {text.iloc[i]!r} at {locate(i)}", column=column)
    missing = values.isna()
    if missing.any():
        raise SourceError(path, f"missing value at {locate(_first(missing))}", column=column)
    if integer:
        if pd.api.types.is_float_dtype(values.dtype):
            frac = values != values.round()
            if frac.any():
                i = _first(frac)
                raise SourceError(
                    path, f"non-integer value {float(values.iloc[i])!r} at {locate(i)}", column=column
                )
        return values.astype("int64")
    return values.astype("float64")


def parse_timestamps(
    series: pd.Series,
    *,
    path: object,
    column: str,
    locate: Locate,
    formats: Sequence[str] = ("ISO8601",),
    strict: bool = False,
) -> pd.Series:
    """Parse a column as UTC timestamps (``datetime64[us, UTC]``); no missing values allowed.

    Naive times are taken as UTC, times with an offset are converted. Strings are tried against
    ``formats`` in order and the first format that parses every value wins. With ``strict`` the
    column must already be a datetime column.
    """
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        out = series.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(series.dtype):
        out = series.dt.tz_localize("UTC")
    elif strict or pd.api.types.is_numeric_dtype(series.dtype):
        raise SourceError(path, f"has type {series.dtype}, expected a timestamp", column=column)
    else:
        text = clean_strings(series)
        first_bad: pd.Series | None = None
        for fmt in formats:
            out = pd.to_datetime(text, format=fmt, utc=True, errors="coerce")
            bad = out.isna() & text.notna()
            if not bad.any():
                break
            first_bad = bad if first_bad is None else first_bad
        else:
            assert first_bad is not None
            i = _first(first_bad)
            tried = ", ".join(formats)
            raise SourceError(
                path, f"unparseable timestamp {text.iloc[i]!r} at {locate(i)} (tried {tried})", column=column
            )
    missing = out.isna()
    if missing.any():
        raise SourceError(path, f"missing timestamp at {locate(_first(missing))}", column=column)
    return out.astype(TS_DTYPE)
