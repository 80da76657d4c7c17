"""History checks: the day's figures against the trailing median (no Great Expectations)."""

from __future__ import annotations

import datetime as dt

import pytest

from ecom_tasks import contract as c
from ecom_tasks.errors import ConfigError
from ecom_tasks.validation import CRITICAL, WARNING, HistoryDay, HistoryThresholds, ValidationConfig
from ecom_tasks.validation import history as h
from tests.validation.shop import events_frame

BASE = {h.ROWS: 100.0, h.ANONYMOUS_SHARE: 0.1, h.RETURN_SHARE: 0.05, h.MEAN_PURCHASE_PRICE: 7.0,
        h.PURCHASES_PER_SESSION: 1.0}  # fmt: skip


def _history(n: int = 5, **changes: float) -> list[HistoryDay]:
    return [HistoryDay(dt.date(2024, 3, 9) - dt.timedelta(days=k), {**BASE, **changes}) for k in range(n)]


def _by_id(outcomes):
    return {o.id.removeprefix("history."): o for o in outcomes}


def test_day_metrics_of_a_small_day():
    m = h.day_metrics(100, events_frame(n=100))
    assert m[h.ROWS] == 100 and m[h.ANONYMOUS_SHARE] == pytest.approx(0.1)
    assert m[h.RETURN_SHARE] == pytest.approx(0.05)
    assert m[h.PURCHASES_PER_SESSION] == pytest.approx(20 / 20)


def test_a_normal_day_passes_every_check():
    out = _by_id(h.compare(dict(BASE), _history(), ValidationConfig()))
    assert all(o.success for o in out.values())
    assert out[h.ROWS].observed == pytest.approx(1.0)


def test_collapse_is_critical_and_a_smaller_drop_a_warning():
    collapse = _by_id(h.compare({**BASE, h.ROWS: 5.0}, _history(), ValidationConfig()))[h.ROWS]
    assert (collapse.success, collapse.level) == (False, CRITICAL)
    assert "0.05x the trailing median 100" in collapse.detail
    drop = _by_id(h.compare({**BASE, h.ROWS: 40.0}, _history(), ValidationConfig()))[h.ROWS]
    assert (drop.success, drop.level) == (False, WARNING)


def test_a_price_the_source_never_has_is_not_applicable_and_a_zero_median_never_gives_a_ratio():
    # A source without prices (ordered sequences) has a mean purchase price of 0 every day (#23).
    zero = _history(**{h.MEAN_PURCHASE_PRICE: 0.0})
    same = _by_id(h.compare({**BASE, h.MEAN_PURCHASE_PRICE: 0.0}, zero, ValidationConfig()))
    assert same[h.MEAN_PURCHASE_PRICE].success and same[h.MEAN_PURCHASE_PRICE].observed is None
    assert same[h.MEAN_PURCHASE_PRICE].detail == (
        "not applicable: the source has no prices (0 on the day and on every day of the window)"
    )
    appeared = _by_id(h.compare(dict(BASE), zero, ValidationConfig()))[h.MEAN_PURCHASE_PRICE]
    assert (appeared.success, appeared.level, appeared.observed) == (False, WARNING, None)  # never inf
    assert appeared.detail == "7 against a trailing median of 0: no ratio to judge"
    # A median of 0 over a window that had some prices: no ratio either, and a day at 0 passes.
    sparse = zero[:3] + _history(2)
    assert _by_id(h.compare(dict(BASE), sparse, ValidationConfig()))[h.MEAN_PURCHASE_PRICE].level == WARNING
    quiet = _by_id(h.compare({**BASE, h.MEAN_PURCHASE_PRICE: 0.0}, sparse, ValidationConfig()))
    assert (
        quiet[h.MEAN_PURCHASE_PRICE].success and "not applicable" not in quiet[h.MEAN_PURCHASE_PRICE].detail
    )


def test_a_sequence_source_gets_not_applicable_instead_of_failures(tmp_path):
    """Beauty-like ordered sequences: every event a purchase at price 0, one event per made-up session."""
    from ecom_tasks.sources.sequence import read_sequences

    lines = [" ".join(str(x) for x in [u, *range(10 + u % 3, 18 + u % 5)]) for u in range(1, 41)]
    (tmp_path / "seq.txt").write_text("\n".join(lines) + "\n")
    events = read_sequences(tmp_path / "seq.txt").events
    days = sorted(events[c.TS].dt.date.unique())
    per_day = {d: h.day_metrics(n, e) for d, e in events.groupby(events[c.TS].dt.date) for n in [len(e)]}
    assert all(m[h.EVENTS_PER_SESSION] == 1 and m[h.MEAN_PURCHASE_PRICE] == 0 for m in per_day.values())
    day = days[6]
    window = [HistoryDay(d, per_day[d]) for d in reversed(days[:6])]
    out = _by_id(h.compare(per_day[day], window, ValidationConfig()))
    assert all(o.success for o in out.values()), [o.describe() for o in out.values() if not o.success]
    assert out[h.MEAN_PURCHASE_PRICE].detail.startswith("not applicable: the source has no prices")
    assert out[h.PURCHASES_PER_SESSION].detail.startswith("not applicable: the source has no sessions")
    assert out[h.ROWS].observed is not None  # what the source has is still checked


def test_sessions_are_applicable_when_a_window_day_has_real_ones():
    days = _history(**{h.EVENTS_PER_SESSION: 1.0})
    days[0] = HistoryDay(days[0].ds, {**days[0].metrics, h.EVENTS_PER_SESSION: 3.5})
    out = _by_id(h.compare({**BASE, h.EVENTS_PER_SESSION: 1.0}, days, ValidationConfig()))
    assert out[h.PURCHASES_PER_SESSION].observed == pytest.approx(1.0)  # a ratio: checked


def test_share_drift_warns_and_a_return_storm_is_critical():
    out = _by_id(
        h.compare({**BASE, h.ANONYMOUS_SHARE: 0.5, h.RETURN_SHARE: 0.7}, _history(), ValidationConfig())
    )
    assert out[h.ANONYMOUS_SHARE].level == WARNING
    assert out[h.RETURN_SHARE].level == CRITICAL


def test_too_little_history_skips_and_empty_days_are_left_out():
    days = _history(3) + [HistoryDay(dt.date(2024, 3, 1), {**BASE, h.ROWS: 0.0})] * 3
    out = h.compare({**BASE, h.ROWS: 1.0}, days, ValidationConfig())
    assert all(o.success and o.detail.startswith("skipped: 3 of 5") for o in out)


def test_thresholds_are_checked():
    with pytest.raises(ConfigError, match=r"history\.rows_critical"):
        HistoryThresholds(rows_critical=(1.2, 3.0))
    with pytest.raises(ConfigError, match="min_history"):
        ValidationConfig(min_history=20)


def test_purchase_figures_of_a_shop_with_few_purchases_warn_instead_of_failing():
    quiet = _history(**{h.PURCHASES: 5.0})
    day = {**BASE, h.PURCHASES_PER_SESSION: 0.0, h.PURCHASES: 0.0}
    outcome = _by_id(h.compare(day, quiet, ValidationConfig()))[h.PURCHASES_PER_SESSION]
    assert (outcome.success, outcome.level) == (False, WARNING)  # 0 purchases on a ~5-a-day shop: chance
    busy = _history(**{h.PURCHASES: 500.0})
    outcome = _by_id(h.compare(day, busy, ValidationConfig()))[h.PURCHASES_PER_SESSION]
    assert (outcome.success, outcome.level) == (False, CRITICAL)  # a busy shop selling nothing: broken
