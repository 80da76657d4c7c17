"""The behaviour report: one self-contained HTML page per ``ds`` with plots and short tables.

Plots are rendered with matplotlib (Agg, imported lazily) and embedded as base64 PNG, so the file
can be mailed or opened from object storage without anything beside it.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import uuid

import fsspec
import numpy as np
import pandas as pd

from ecom_tasks import catalog, contract, storage
from ecom_tasks.features import columns as fc
from ecom_tasks.features.config import FeatureConfig
from ecom_tasks.features.profiles import SEGMENTS

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#222}
h1{margin-bottom:.2rem}.sub{color:#666;margin-top:0}
.kpis{display:flex;flex-wrap:wrap;gap:.8rem;margin:1.2rem 0}
.kpi{background:#f4f6fa;border-radius:8px;padding:.7rem 1rem;min-width:140px}
.kpi b{display:block;font-size:1.4rem}.kpi span{color:#555;font-size:.85rem}
section{margin:2rem 0}img{max-width:100%}p.note{color:#555;font-size:.9rem}
table{border-collapse:collapse;font-size:.85rem}
td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child,td.l{text-align:left}
"""


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _plots(prof: pd.DataFrame, tables: dict[str, pd.DataFrame], config: FeatureConfig) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    out: dict[str, str] = {}
    funnel = tables[catalog.FUNNEL_DAILY].tail(config.report_days)
    days = funnel[fc.DAY].dt.tz_localize(None)
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.bar(days, funnel[fc.REVENUE], color="#4c78a8", width=0.9, label="revenue")
    ax.set_ylabel("revenue")
    ax2 = ax.twinx()
    ax2.plot(days, funnel[fc.N_ORDERS], color="#f58518", label="orders")
    ax2.plot(days, funnel[fc.N_NEW_BUYERS], color="#54a24b", label="first-time buyers")
    ax2.set_ylabel("count")
    fig.legend(loc="upper left", ncols=3, frameon=False)
    fig.autofmt_xdate()
    out["daily"] = _png(fig)
    if funnel[fc.SESSIONS_VIEW].sum() > 0:
        fig, ax = plt.subplots(figsize=(10, 3.2))
        for col, label in (
            (fc.VIEW_TO_CART_RATE, "view → cart"),
            (fc.CART_TO_PURCHASE_RATE, "cart → purchase"),
        ):
            ax.plot(days, funnel[col], label=label)
        ax.plot(days, funnel[fc.SESSION_CONVERSION], label="session → purchase", linestyle="--")
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of sessions")
        ax.legend(frameon=False, ncols=3)
        fig.autofmt_xdate()
        out["funnel"] = _png(fig)
    seg = prof[prof[fc.HAS_PURCHASE] == 1].groupby(fc.SEGMENT)[fc.MONETARY].agg(["size", "sum"])
    seg = seg.reindex([s for s in SEGMENTS if s in seg.index])
    if len(seg):
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
        axes[0].barh(seg.index, seg["size"], color="#4c78a8")
        axes[0].set_title("customers")
        total = seg["sum"].sum()
        axes[1].barh(seg.index, seg["sum"] / total if total else seg["sum"], color="#f58518")
        axes[1].set_title("share of net revenue")
        axes[0].invert_yaxis()
        out["segments"] = _png(fig)
    cohort = tables[catalog.COHORT_RETENTION]
    if len(cohort):
        grid = cohort.pivot(index=fc.COHORT, columns=fc.PERIOD, values=fc.RETENTION)
        grid = grid.iloc[-config.cohort_months :, : config.cohort_months]
        fig, ax = plt.subplots(figsize=(10, 0.35 * len(grid) + 1.2))
        im = ax.imshow(grid.to_numpy(dtype=float), cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for (r, c), v in np.ndenumerate(grid.to_numpy(dtype=float)):
            if not np.isnan(v):
                ax.text(
                    c,
                    r,
                    f"{v:.0%}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if v > 0.5 else "#222",
                )
        ax.set_yticks(range(len(grid)), grid.index)
        ax.set_xticks(range(grid.shape[1]), grid.columns)
        ax.set_xlabel("months since first purchase")
        fig.colorbar(im, ax=ax, fraction=0.02)
        out["cohorts"] = _png(fig)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3))
    rp, bs = tables[catalog.REPEAT_PURCHASE], tables[catalog.BASKET_SIZES]
    axes[0].bar(rp[fc.ORDERS_BUCKET], rp[fc.SHARE], color="#54a24b")
    axes[0].set_title("customers by number of orders")
    axes[0].set_xlabel("orders")
    axes[1].bar(bs[fc.BASKET_ITEMS], bs[fc.SHARE], color="#b279a2")
    axes[1].set_title(f"orders by distinct items (last {config.basket_days} days)")
    axes[1].set_xlabel("distinct items in the order")
    for ax in axes:
        ax.tick_params(axis="x", labelrotation=45)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    out["orders"] = _png(fig)
    how = tables[catalog.HOUR_OF_WEEK]
    activity = (how[fc.N_VIEWS] + how[fc.N_CARTS] + how[fc.N_ORDERS]).to_numpy().reshape(7, 24)
    fig, ax = plt.subplots(figsize=(10, 2.8))
    im = ax.imshow(activity, cmap="magma_r", aspect="auto")
    ax.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("hour (UTC)")
    fig.colorbar(im, ax=ax, fraction=0.02, label="views + carts + orders")
    out["hours"] = _png(fig)
    return out


_HEADINGS = {
    contract.ITEM_ID: "item",
    contract.TITLE: "title",
    contract.CATEGORY: "category",
    fc.N_BUYERS: "customers who bought it",
    fc.REPEAT_PURCHASE_RATE: "bought again",
    fc.TITLE_A: "item",
    fc.TITLE_B: "bought with",
    fc.N_PAIR_ORDERS: "orders with both",
    fc.SUPPORT: "share of orders",
    fc.CONFIDENCE_AB: "confidence",
    fc.LIFT: "lift",
}


def _table(frame: pd.DataFrame, formats: dict[str, str]) -> str:
    """A small HTML table: numbers right-aligned with ``formats``, text left-aligned."""
    head = "".join(f"<th>{html.escape(_HEADINGS.get(c, str(c)))}</th>" for c in frame.columns)
    rows = []
    for rec in frame.itertuples(index=False):
        cells = []
        for col, v in zip(frame.columns, rec, strict=True):
            text = formats[col].format(v) if col in formats else str(v)
            cls = "" if col in formats else ' class="l"'
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def render_report(
    ds: dt.date,
    prof: pd.DataFrame,
    feats: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    config: FeatureConfig,
    currency: str | None = None,
    back: str | None = None,
) -> str:
    """The report as one HTML string (pure: no I/O).

    Args:
        currency: of the shop's prices (``GBP``); None: "currency units".
        back: a link back to the page that lists the report (relative), or None.
    """
    money = currency or "currency units"
    plots = _plots(prof, tables, config)
    funnel = tables[catalog.FUNNEL_DAILY]
    last30 = funnel.tail(30)
    buyers = int(prof[fc.HAS_PURCHASE].sum())
    orders30, revenue30 = int(last30[fc.N_ORDERS].sum()), float(last30[fc.REVENUE].sum())
    rp = tables[catalog.REPEAT_PURCHASE]
    repeat = 1.0 - float(rp[fc.SHARE].iloc[0]) if rp[fc.N_CUSTOMERS].sum() else 0.0
    kpis = [
        (f"{len(prof):,}", "known customers"),
        (f"{buyers:,}", "customers who bought"),
        (f"{int((prof[fc.ORDERS_RECENT] > 0).sum()):,}", f"bought in the last {config.trend_days} days"),
        (f"{orders30:,}", "orders, last 30 days"),
        (f"{revenue30:,.0f}", f"revenue, last 30 days ({money})"),
        (f"{revenue30 / orders30:,.2f}" if orders30 else "-", f"average order value, last 30 days ({money})"),
        (f"{repeat:.0%}", "buyers with 2+ orders"),
    ]
    pop_col = (
        f"{fc.PURCHASES_PREFIX}{sorted(config.popularity_windows)[len(config.popularity_windows) // 2]}d"
    )
    top_items = feats.nlargest(15, pop_col)[
        [contract.ITEM_ID, contract.TITLE, contract.CATEGORY, pop_col, fc.N_BUYERS, fc.REPEAT_PURCHASE_RATE]
    ]
    pairs = tables[catalog.CO_PURCHASE_PAIRS].head(15)[
        [fc.TITLE_A, fc.TITLE_B, fc.N_PAIR_ORDERS, fc.SUPPORT, fc.CONFIDENCE_AB, fc.LIFT]
    ]
    sections = [
        (
            "Orders and revenue per day",
            "daily",
            f"The last {config.report_days} days. Bars: revenue ({money}); lines: orders and first-time"
            " buyers.",
        ),
        (
            "Funnel",
            "funnel",
            "Share of sessions that reach the next step, per day (only where views are logged).",
        ),
        (
            "Customer segments (RFM)",
            "segments",
            "Buyers by recency/frequency segment, and each segment's share of net revenue.",
        ),
        (
            "Cohort retention",
            "cohorts",
            "Share of each first-purchase month that bought again in the months after; the last cell of"
            " each row is the current, partial month.",
        ),
        (
            "Repeat purchase and basket size",
            "orders",
            "How many orders customers place, and how many distinct items an order holds.",
        ),
        (
            "When customers are active",
            "hours",
            "Views, carts and orders by weekday and hour (UTC), all history.",
        ),
    ]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Shop behaviour {ds}</title><style>{_CSS}</style></head><body>",
        f"<p class='sub'><a href='{html.escape(back)}'>&larr; Back to the Shop ML page</a></p>"
        if back
        else "",
        f"<h1>Shop behaviour</h1><p class='sub'>As of the end of {ds} (UTC), from validated data only; "
        f"amounts in {html.escape(money)}.</p>",
        "<div class='kpis'>"
        + "".join(
            f"<div class='kpi'><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>" for v, k in kpis
        )
        + "</div>",
    ]
    for title, key, note in sections:
        body = _img(plots[key], title) if key in plots else "<p class='note'>No data for this view yet.</p>"
        parts.append(
            f"<section><h2>{html.escape(title)}</h2><p class='note'>{html.escape(note)}</p>{body}</section>"
        )
    parts.append(
        f"<section><h2>Most-bought items (last {pop_col[len(fc.PURCHASES_PREFIX) : -1]} days)</h2>"
        + _table(top_items, {pop_col: "{:,}", fc.N_BUYERS: "{:,}", fc.REPEAT_PURCHASE_RATE: "{:.0%}"})
        + "</section>"
    )
    parts.append(
        f"<section><h2>Bought together (last {config.basket_days} days)</h2><p class='note'>Confidence: share"
        " of orders with the first item that also hold the second. Lift above 1: bought together more often"
        " than chance.</p>"
        + (
            _table(
                pairs,
                {
                    fc.N_PAIR_ORDERS: "{:,}",
                    fc.SUPPORT: "{:.2%}",
                    fc.CONFIDENCE_AB: "{:.0%}",
                    fc.LIFT: "{:.1f}",
                },
            )
            if len(pairs)
            else "<p class='note'>No pair reached the minimum support.</p>"
        )
        + "</section></body></html>"
    )
    return "\n".join(parts)


def shop_currency(root: str, ds: dt.date) -> str | None:
    """The currency of the shop's prices: from the source that landed the day's raw events
    (its manifest's ``source``, :data:`catalog.CURRENCIES`); None when unknown."""
    manifest = storage.read_manifest(storage.partition_uri(root, catalog.RAW, contract.EVENTS, ds))
    return None if manifest is None else catalog.CURRENCIES.get(manifest.source or "")


def report_uri(root: str, ds: dt.date) -> str:
    """``{root}/reports/behaviour/ds=YYYY-MM-DD/report.html``."""
    return (
        f"{storage.partition_uri(root, catalog.REPORTS, catalog.BEHAVIOUR_REPORT, ds)}/{catalog.REPORT_HTML}"
    )


def write_report(
    root: str,
    ds: dt.date,
    prof: pd.DataFrame,
    feats: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    config: FeatureConfig,
) -> str:
    """Render and write the report atomically; returns its URI."""
    uri = report_uri(root, ds)
    # The page serves the report at {app}/reports/<ds>: "../" is the page.
    data = render_report(ds, prof, feats, tables, config, shop_currency(root, ds), back="../").encode()
    fs, path = fsspec.core.url_to_fs(uri)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"
    with fs.open(tmp, "wb") as fh:
        fh.write(data)
    fs.mv(tmp, path)
    return uri
