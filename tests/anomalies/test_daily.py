"""Daily metrics against the same weekday of earlier weeks, on hand-made days."""

from __future__ import annotations

import pandas as pd
import pytest

from ecom_tasks.anomalies import daily
from ecom_tasks.anomalies.config import AnomalyConfig
from ecom_tasks.anomalies.data import DAY, SESSIONS
from tests.anomalies.conftest import day_frame

CONFIG = AnomalyConfig(metric_weeks=4)
START = pd.Timestamp("2024-01-01")


def shop(last_day_orders: int, orders_per_day: int = 100) -> pd.DataFrame:
    """Five weeks of GB orders worth 10.00 each (one line of one unit); a last day of its own size."""
    rows = []
    for d in range(35):
        day = START + pd.Timedelta(days=d)
        n = last_day_orders if d == 34 else orders_per_day
        for k in range(n):
            user = None if k % 10 == 0 else f"u{k}"
            rows.append((f"{day.date()} 10:00", user, "A", 1, 10.0, f"o{d}-{k}", "GB"))
    return day_frame(*rows)


def _row(frame: pd.DataFrame, segment: str, metric: str) -> pd.Series:
    pick = frame[(frame[DAY] == START + pd.Timedelta(days=34)) & (frame[daily.SEGMENT] == segment)]
    return pick.set_index(daily.METRIC).loc[metric]


def test_an_ordinary_day_sits_on_its_expected_value():
    frame = daily.anomalies(
        shop(100), _no_views(), START + pd.Timedelta(days=28), START + pd.Timedelta(days=34), CONFIG
    )
    row = _row(frame, daily.ALL, daily.REVENUE)
    assert row[daily.VALUE] == 1000.0 and row[daily.EXPECTED] == 1000.0
    # A flat history has no spread: the band is counting noise, 1/sqrt(100) = 10% each side, times 3.
    assert row[daily.LOWER] == pytest.approx(700.0) and row[daily.UPPER] == pytest.approx(1300.0)
    assert not frame[daily.FLAGGED].any()
    assert _row(frame, daily.ALL, daily.ANONYMOUS_SHARE)[daily.VALUE] == pytest.approx(0.1)


def test_a_drop_to_half_is_flagged_with_its_size_for_the_shop_and_the_country():
    frame = daily.anomalies(
        shop(50), _no_views(), START + pd.Timedelta(days=34), START + pd.Timedelta(days=34), CONFIG
    )
    for segment in (daily.ALL, "country: GB"):
        row = _row(frame, segment, daily.ORDERS)
        assert row[daily.VALUE] == 50 and row[daily.EXPECTED] == 100
        assert row[daily.DEVIATION] == pytest.approx(-0.5) and row[daily.FLAGGED]


def test_conversion_where_the_shop_records_views_and_small_countries_are_not_tracked():
    lines = shop(100)
    extra = day_frame(("2024-02-04 10:00", "x", "A", 1, 10.0, "fr1", "FR"))  # one French order: not tracked
    sessions = pd.DataFrame(
        {DAY: pd.date_range(START, periods=35), "country": ["GB"] * 35, SESSIONS: [1000] * 35}
    )
    frame = daily.anomalies(
        pd.concat([lines, extra], ignore_index=True),
        sessions,
        START + pd.Timedelta(days=34),
        START + pd.Timedelta(days=34),
        CONFIG,
    )
    assert _row(frame, "country: GB", daily.CONVERSION)[daily.VALUE] == pytest.approx(0.1)
    assert "country: FR" not in set(frame[daily.SEGMENT])


def test_no_lines_give_no_rows():
    frame = daily.anomalies(shop(1).iloc[0:0], _no_views(), START, START, CONFIG)
    assert frame.empty and list(frame.columns) == list(daily.COLUMNS)


def _no_views() -> pd.DataFrame:
    return pd.DataFrame({DAY: pd.Series([], dtype="datetime64[us]"), "country": [], SESSIONS: []})


def test_conversion_per_category_from_the_sessions_that_viewed_it():
    from ecom_tasks.anomalies.data import viewing_sessions
    from ecom_tasks.contract import CATEGORY, COUNTRY, EVENT_TYPE, ITEM_ID, SESSION_ID, TS, VIEW

    # Two sessions view toys (one views a book too), one views only books: 2 toy and 2 book sessions.
    views = pd.DataFrame(
        {
            TS: pd.to_datetime(["2024-02-04 09:00"] * 4, utc=True),
            SESSION_ID: ["s1", "s1", "s2", "s3"],
            COUNTRY: ["GB"] * 4,
            ITEM_ID: ["A", "B", "A", "B"],
            EVENT_TYPE: [VIEW] * 4,
        }
    )
    categories = pd.Series({"A": "toys", "B": "books"})
    sessions = viewing_sessions(views, categories)
    by_category = sessions[sessions[CATEGORY].notna()].set_index(CATEGORY)[SESSIONS]
    assert by_category.to_dict() == {"books": 2, "toys": 2}
    assert sessions.loc[sessions[CATEGORY].isna(), SESSIONS].tolist() == [3]  # GB: three sessions
    # Five weeks of 100 orders of item A (toys) a day against 1,000 viewing sessions of toys.
    lines = shop(100).assign(**{CATEGORY: pd.array(["toys"] * 3500, dtype="string")})
    days = pd.date_range(START, periods=35)
    rows = pd.concat(
        [
            pd.DataFrame({DAY: days, COUNTRY: ["GB"] * 35, CATEGORY: [pd.NA] * 35, SESSIONS: [2000] * 35}),
            pd.DataFrame({DAY: days, COUNTRY: [pd.NA] * 35, CATEGORY: ["toys"] * 35, SESSIONS: [1000] * 35}),
        ],
        ignore_index=True,
    )
    last = START + pd.Timedelta(days=34)
    frame = daily.anomalies(lines, rows, last, last, CONFIG)
    assert _row(frame, "category: toys", daily.CONVERSION)[daily.VALUE] == pytest.approx(0.1)
    assert _row(frame, "country: GB", daily.CONVERSION)[daily.VALUE] == pytest.approx(0.05)
    assert _row(frame, daily.ALL, daily.CONVERSION)[daily.VALUE] == pytest.approx(0.05)  # countries only
