"""A short Markdown + HTML report of one head for ``ds``: metrics against the baselines and the
champion, the reliability plot, training time and (churn) the most common reasons.

Written to ``{root}/reports/heads/ds=D/<task>.md`` and ``<task>.html`` beside
``<task>_reliability.png``; each head writes its own files, so the heads can run in parallel.
"""

from __future__ import annotations

import html

import pandas as pd

from ecom_tasks import remote, storage
from ecom_tasks.heads.config import BASELINES, HEAD_MODEL, REPORT_TABLE, REPORTS_STAGE
from ecom_tasks.heads.metrics import METRICS, ORDERS_MAE

LABELS = {HEAD_MODEL: "fine-tuned head", "champion": "current champion"}


def report_folder(root: str, ds: str) -> str:
    """``{root}/reports/heads/ds=D``."""
    return storage.partition_uri(root, REPORTS_STAGE, REPORT_TABLE, ds)


def metrics_table(
    task: str, model_metrics: dict[str, dict], seconds: dict[str, float], selected: str
) -> pd.DataFrame:
    """One row per model (head, baselines, champion), one column per metric."""
    names = [f"{task}_{m}" for m in METRICS] + [f"{task}_{ORDERS_MAE}"]
    rows = []
    for model in [HEAD_MODEL, *BASELINES, "champion"]:
        if model not in model_metrics:
            continue
        row = {"model": LABELS.get(model, model) + (" (published)" if model == selected else "")}
        row |= {
            n.removeprefix(f"{task}_"): model_metrics[model].get(n)
            for n in names
            if n in model_metrics[model]
        }
        row["train_seconds"] = seconds.get(model)
        rows.append(row)
    return pd.DataFrame(rows)


def write_report(
    root: str,
    ds: str,
    task: str,
    *,
    table: pd.DataFrame,
    reason: str,
    counts: dict,
    plot: str,
    reasons: pd.DataFrame | None = None,
) -> dict[str, str]:
    """Write the Markdown and HTML report of ``task``; returns their URIs.

    Args:
        table: from :func:`metrics_table`.
        reason: the selection sentence.
        counts: split sizes, positive rates and scored customers.
        plot: path of the reliability PNG (inside the report folder).
        reasons: explanation summary (churn): feature, mean effect, times top reason.
    """
    folder = report_folder(root, ds)
    image = plot.rstrip("/").rsplit("/", 1)[-1]
    title = f"{task.capitalize()} head, ds={storage.as_date(ds).isoformat()}"
    fmt = {"float_format": lambda v: f"{v:.4f}"}
    md = [f"# {title}", "", f"**Selection:** {reason}", "", "## Test metrics (same held-out customers)", ""]
    md += [
        table.to_markdown(index=False, floatfmt=".4f") if _has_tabulate() else table.to_string(index=False),
        "",
    ]
    md += ["## Data", ""] + [f"- {k}: {v}" for k, v in counts.items()] + ["", "## Reliability", ""]
    md += [f"![reliability]({image})", ""]
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p><b>Selection:</b> {html.escape(reason)}</p>",
        "<h2>Test metrics (same held-out customers)</h2>",
        table.to_html(index=False, **fmt),
        "<h2>Data</h2><ul>"
        + "".join(f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in counts.items())
        + "</ul>",
        f"<h2>Reliability</h2><img src='{image}' alt='reliability plot'>",
    ]
    if reasons is not None and len(reasons):
        top = reasons.head(10)
        md += ["## What drives churn risk (occlusion effects over the profile features)", ""]
        md += [
            top.to_markdown(index=False, floatfmt=".4f") if _has_tabulate() else top.to_string(index=False),
            "",
        ]
        parts += [
            "<h2>What drives churn risk (occlusion effects over the profile features)</h2>",
            top.to_html(index=False, **fmt),
        ]
    md_uri, html_uri = f"{folder}/{task}.md", f"{folder}/{task}.html"
    # Through remote: the root may be an object store.
    remote.write_uri(md_uri, ("\n".join(md) + "\n").encode())
    remote.write_uri(
        html_uri,
        (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body>{''.join(parts)}</body></html>\n"
        ).encode(),
    )
    return {"markdown": md_uri, "html": html_uri, "plot": plot}


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True
