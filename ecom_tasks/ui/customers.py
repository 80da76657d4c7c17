"""The customer explorer: one customer's profile, segment, scores with reasons, recent purchases
and top-K recommendations, from what is published.

- Scores and recommendations: the tables the outputs pointer designates (``outputs/current.json``).
- Profile: ``features/customer_profiles/ds=D`` for the chosen ``ds`` (default: the day of the
  current churn scores, else of any current table, else the newest profiles partition).
- Recent purchases: purchase and return lines of ``validated/events/ds=*`` over the trailing
  ``purchase_days`` up to that day, with titles from the items snapshot of the day.

Every table is read once and indexed (:mod:`ecom_tasks.ui.cache`), so a lookup is a few slices.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import pandas as pd

from ecom_tasks import contract, storage
from ecom_tasks.catalog import (
    CHURN_SCORES,
    CUSTOMER_PROFILES,
    FEATURES,
    OUTPUTS,
    RAW,
    RECOMMENDATIONS,
    REPURCHASE_SCORES,
    VALIDATED,
)
from ecom_tasks.features import columns as fc
from ecom_tasks.publish import outputs
from ecom_tasks.publish import tables as out
from ecom_tasks.ui.cache import Indexed, TableCache
from ecom_tasks.ui.config import DEFAULT_UI, UIConfig
from ecom_tasks.ui.inputs import NotFound
from ecom_tasks.validation.report import jsonable

log = logging.getLogger(__name__)

PURCHASE_TYPES = (contract.PURCHASE, contract.RETURN)
PURCHASE_COLUMNS = [contract.TS, contract.USER_ID, contract.ORDER_ID, contract.ITEM_ID,
                    contract.EVENT_TYPE, contract.QUANTITY, contract.UNIT_PRICE]  # fmt: skip
# The profile fields the page shows first (the JSON answer carries every column).
PROFILE_SUMMARY = (
    fc.SEGMENT, contract.COUNTRY, contract.FIRST_SEEN, fc.TENURE_DAYS, fc.RECENCY_DAYS, fc.FREQUENCY,
    fc.MONETARY, fc.AVG_ORDER_VALUE, fc.R_SCORE, fc.F_SCORE, fc.M_SCORE, fc.TOP_CATEGORY,
    fc.RETURN_RATE, fc.ORDERS_RECENT, fc.ORDER_TREND, fc.N_EVENTS,
)  # fmt: skip


def _first(idx: Indexed | None, key: str) -> dict[str, Any] | None:
    found = idx.records(key, 1) if idx is not None else []
    return jsonable(found[0]) if found else None


def profile_days(root: str) -> list[dt.date]:
    """Days with a customer profiles partition, oldest first."""
    return storage.list_partitions(root, FEATURES, CUSTOMER_PROFILES)


def default_day(root: str, pointer: dict[str, Any] | None = None) -> dt.date | None:
    """The day the explorer shows by default (see the module docstring); None when nothing is there."""
    tables = (pointer or outputs.read_pointer(root))["tables"]
    for table in (CHURN_SCORES, REPURCHASE_SCORES, RECOMMENDATIONS):
        if table in tables:
            return storage.as_date(tables[table]["ds"])
    days = profile_days(root)
    return days[-1] if days else None


def _current(root: str, pointer: dict[str, Any], table: str, cache: TableCache, **index: Any) -> tuple:
    entry = pointer["tables"].get(table)
    if entry is None:
        return None, None
    # What outputs.current_uri resolves, without reading the pointer again.
    uri = f"{storage.data_root(root)}/{OUTPUTS}/{entry['path']}"
    return cache.partition(uri, contract.USER_ID, **index), entry


def _churn(idx: Indexed | None, entry: dict | None, customer: str, config: UIConfig) -> dict | None:
    row = _first(idx, customer)
    if row is None:
        return None
    raw = row.pop(out.CHURN_REASONS, None)
    try:
        reasons = json.loads(raw) if isinstance(raw, str) else list(raw or [])
    except ValueError:
        log.warning("%s: churn_reasons of %s is not JSON", entry, customer)
        reasons = []
    row["reasons"] = [r for r in reasons if isinstance(r, dict)][: config.reasons_shown]
    return row | {"ds": entry["ds"], "version": entry.get("version")}


def _scores(idx: Indexed | None, entry: dict | None, customer: str) -> dict | None:
    row = _first(idx, customer)
    if row is None:
        return None
    return row | {"ds": entry["ds"], "version": entry.get("version")}


def purchase_index(root: str, day: dt.date, cache: TableCache, config: UIConfig) -> Indexed:
    """Purchase and return lines of every validated day in the trailing window, indexed by customer
    (newest first), reloaded when a partition in the window changes or one is added."""
    first = day - dt.timedelta(days=config.purchase_days - 1)

    def fingerprint() -> tuple[tuple[str, str], ...]:
        days = [d for d in storage.list_partitions(root, VALIDATED, contract.EVENTS) if first <= d <= day]
        uris = [storage.partition_uri(root, VALIDATED, contract.EVENTS, d) for d in days]
        manifests = [storage.read_manifest(u) for u in uris]
        return tuple((u, m.content_hash) for u, m in zip(uris, manifests, strict=True) if m is not None)

    # Listing a year of partitions and their manifests costs more than a lookup: re-checked at
    # most every ``refresh_s`` seconds.
    version = cache.ttl(("purchase-days", root, day), config.refresh_s, fingerprint)

    def build() -> Indexed:
        frames = []
        for uri, _ in version:
            frame = storage.read_partition(uri, columns=PURCHASE_COLUMNS)
            frames.append(frame[frame[contract.EVENT_TYPE].isin(PURCHASE_TYPES)])
        lines = pd.concat(frames, ignore_index=True) if frames else contract.empty_frame(contract.EVENTS)
        lines = lines[PURCHASE_COLUMNS]
        return Indexed.build(lines, contract.USER_ID, [contract.TS], ascending=False)

    return cache.memo(("purchases", root, day), version, build)


def item_titles(root: str, day: dt.date, cache: TableCache) -> dict[str, tuple[Any, Any]]:
    """``{item_id: (title, category)}`` from the items snapshot of ``day`` (validated, else raw)."""
    for stage in (VALIDATED, RAW):
        uri = storage.partition_uri(root, stage, contract.ITEMS, day)
        manifest = storage.read_manifest(uri)
        if manifest is None:
            continue

        def build(uri: str = uri) -> dict[str, tuple[Any, Any]]:
            frame = storage.read_partition(uri, columns=[contract.ITEM_ID, contract.TITLE, contract.CATEGORY])
            frame = frame.drop_duplicates(contract.ITEM_ID)
            pairs = zip(jsonable(frame[contract.TITLE].tolist()), jsonable(frame[contract.CATEGORY].tolist()),
                        strict=True)  # fmt: skip
            return dict(zip(frame[contract.ITEM_ID].astype(str), pairs, strict=True))

        return cache.memo(("titles", uri), manifest.content_hash, build)
    return {}


def with_titles(lines: list[dict[str, Any]], titles: dict[str, tuple[Any, Any]]) -> list[dict[str, Any]]:
    """Purchase lines as JSON-ready rows with their item's title and category (where known)."""
    rows = [jsonable(r) for r in lines]
    for row in rows:
        if row[contract.ITEM_ID] in titles:
            row[contract.TITLE], row[contract.CATEGORY] = titles[row[contract.ITEM_ID]]
    return rows


def _currency(root: str, day: dt.date) -> str:
    """The shop's currency for amounts (the behaviour report's), "currency units" when unknown."""
    from ecom_tasks.features.report import shop_currency

    return shop_currency(root, day) or "currency units"


def not_scored_reason(profile: dict[str, Any] | None) -> str:
    """Why a customer has no churn or repurchase score: the heads score customers who bought
    within ``HeadConfig.active_days`` of the day; the others are lapsed or never bought."""
    from ecom_tasks.heads.config import HeadConfig

    active = HeadConfig().active_days
    if profile is None:
        return "not scored: no customer profile for this day"
    frequency, recency = profile.get(fc.FREQUENCY), profile.get(fc.RECENCY_DAYS)
    if not frequency or recency is None:
        return "not scored: never bought (only customers with a purchase are scored)"
    if active is not None and recency > active:
        return (f"not scored: lapsed, last purchase {recency:,.0f} days ago (only customers who "
                f"bought in the last {active} days are scored)")  # fmt: skip
    return "not scored: not in the published scores (they were computed on an earlier day)"


def lookup_customer(
    root: str,
    customer: str,
    ds: dt.date | None = None,
    cache: TableCache | None = None,
    config: UIConfig = DEFAULT_UI,
) -> dict[str, Any]:
    """Everything the explorer shows about ``customer`` (an id already checked by ``inputs``).

    Args:
        ds: the day of the profile and the end of the purchase window; default :func:`default_day`.

    Returns:
        ``{"customer", "ds", "profile", "summary", "churn", "repurchase", "recommendations",
        "purchases", "sources"}``; absent parts are None or empty lists.

    Raises:
        NotFound: ``ds`` has no profiles partition, or the customer is in no published table.
    """
    cache = cache or TableCache()
    pointer = outputs.read_pointer(root)
    day = ds or default_day(root, pointer)
    if day is None:
        raise NotFound("nothing is published yet: no customer profiles and no output tables")
    profiles = cache.partition(
        storage.partition_uri(root, FEATURES, CUSTOMER_PROFILES, day), contract.USER_ID
    )
    if profiles is None and ds is not None:
        raise NotFound(f"no customer profiles for ds={day.isoformat()}")
    churn_idx, churn_entry = _current(root, pointer, CHURN_SCORES, cache)
    rep_idx, rep_entry = _current(root, pointer, REPURCHASE_SCORES, cache)
    rec_idx, rec_entry = _current(root, pointer, RECOMMENDATIONS, cache, order_by=[out.RANK])

    profile = _first(profiles, customer)
    churn = _churn(churn_idx, churn_entry, customer, config)
    repurchase = _scores(rep_idx, rep_entry, customer)
    index = purchase_index(root, day, cache, config)
    returned = {str(r[contract.ITEM_ID]) for r in index.records(customer, None)
                if r.get(contract.EVENT_TYPE) == contract.RETURN}  # fmt: skip
    # Never show an item the customer sent back (older tables may still hold one).
    recs = rec_idx.records(customer, config.top_k + len(returned)) if rec_idx is not None else []
    recs = [r for r in recs if str(r[contract.ITEM_ID]) not in returned][: config.top_k]
    if profile is None and churn is None and repurchase is None and not recs:
        raise NotFound(
            f"customer {customer!r} is not in the customer profiles of ds={day.isoformat()} "
            "nor in any published score or recommendation table"
        )
    purchases = index.records(customer, config.recent_purchases)
    titles = item_titles(root, day, cache)
    segment = (profile or {}).get(fc.SEGMENT) or (churn or {}).get(fc.SEGMENT)
    sources = {t: e for t, e in ((CHURN_SCORES, churn_entry), (REPURCHASE_SCORES, rep_entry),
                                 (RECOMMENDATIONS, rec_entry)) if e is not None}  # fmt: skip
    return {
        "customer": customer,
        "ds": day.isoformat(),
        "segment": segment,
        "profile": profile,
        "summary": {k: profile[k] for k in PROFILE_SUMMARY if profile and k in profile},
        "churn": churn,
        "repurchase": repurchase,
        "not_scored": None if churn and repurchase else not_scored_reason(profile),
        "currency": _currency(root, day),
        "recommendations": [jsonable(r) for r in recs],
        "purchases": with_titles(purchases, titles),
        "sources": sources,
    }
