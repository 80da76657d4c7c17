"""The model card, in Markdown and HTML: what was trained on which data, how it scored, what the
gate decided, and where it came from.

Built from the :class:`~ecom_tasks.publish.gate.Blessing` (metrics, baselines, champion, checks,
lineage) so its figures are the ones the gate judged and the run logged to MLflow; every figure is
printed with :func:`fmt` (4 decimals).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ecom_tasks import remote
from ecom_tasks.catalog import NOTICE_FILE
from ecom_tasks.publish.config import CARD_HTML, CARD_MARKDOWN
from ecom_tasks.publish.gate import Blessing

_CSS = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
)
Table = tuple[list[str], list[list[str]]]
Section = tuple[str, list[str], Table | None]  # title, paragraphs, optional table


def fmt(value: float | str | None) -> str:
    """How the card prints a figure: 4 decimals, ``-`` when absent."""
    if value is None:
        return "-"
    if isinstance(value, int | float):
        return f"{value:.4f}"
    return str(value)


def _metrics_table(b: Blessing) -> Table:
    baselines = sorted(b.baselines)
    champ = "champion" + (f" (v{b.champion_version})" if b.champion_version else "")
    header = ["metric", "candidate", champ, *baselines]
    rows = []
    for metric in sorted(b.metrics):
        row = [metric, fmt(b.metrics[metric]), fmt((b.champion_metrics or {}).get(metric))]
        rows.append(row + [fmt(b.baselines[name].get(metric)) for name in baselines])
    return header, rows


def _interval(c: Any) -> str:
    """The candidate's gain over the model it is compared with, as a 95% interval (or "-")."""
    if not c.interval:
        return "-"
    low, high = c.interval
    return f"{low:+.4f} to {high:+.4f}"


def _checks_table(b: Blessing) -> Table:
    header = ["check", "value", "rule", "outcome", "gain interval (95%, positive = better)", "detail"]
    rows = [
        [
            c.name,
            fmt(c.value),
            f"{c.comparator} {fmt(c.threshold)}",
            c.outcome.upper(),
            _interval(c),
            c.detail,
        ]
        for c in b.checks
    ]
    return header, rows


def sections(
    b: Blessing, publication: Mapping[str, Any] | None = None, plots: Sequence[str] = ()
) -> list[Section]:
    """The card's content, independent of the output format."""
    lin = b.lineage
    status = "BLESSED" if b.blessed else f"BLOCKED - failing checks: {', '.join(b.failing)}"
    if b.forced:
        status += " (forced over a newer champion)"
    window = lin.get("data_window", {})
    out: list[Section] = [
        ("Status", [f"Gate: **{status}**"], None),
        ("Data window", [], (["key", "value"], [[k, str(v)] for k, v in window.items()])),
        (
            "Metrics against the champion and the baselines",
            ["Same held-out data, same run."],
            _metrics_table(b),
        ),
        ("Gate checks", [], _checks_table(b)),
    ]
    if publication:
        rows = [[k, str(v)] for k, v in publication.items() if v is not None]
        out.append(("Publication", [], (["key", "value"], rows)))
    rows = [
        [k, str(lin.get(k, "-"))]
        for k in ("run_id", "code_version", "fingerprint", "artifact", "artifact_hash")
    ]
    rows += [[f"input {name}", h] for name, h in sorted(lin.get("inputs", {}).items())]
    out.append(("Lineage", [], (["key", "value"], rows)))
    if plots:
        out.append(("Plots", [f"![{p}]({p})" for p in plots], None))
    return out


def to_markdown(title: str, content: list[Section]) -> str:
    lines = [f"# {title}", ""]
    for name, paragraphs, table in content:
        lines += [f"## {name}", ""]
        lines += [p + "\n" for p in paragraphs]
        if table is not None:
            header, rows = table
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "|".join("---" for _ in header) + "|")
            lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines)


def to_html(title: str, content: list[Section]) -> str:
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{e(title)}</h1>"]  # fmt: skip
    for name, paragraphs, table in content:
        parts.append(f"<h2>{e(name)}</h2>")
        for p in paragraphs:
            if p.startswith("!["):
                src = p[p.index("(") + 1 : -1]
                parts.append(f"<p><img src='{e(src)}' alt='{e(src)}' style='max-width:100%'></p>")
            else:
                parts.append("<p>" + e(p).replace("**", "") + "</p>")
        if table is not None:
            header, rows = table
            parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_card(
    root: str, b: Blessing, folder: str, publication: Mapping[str, Any] | None = None
) -> tuple[str, str]:
    """Write ``model_card.md`` and ``model_card.html`` into the candidate's folder; return both paths.

    Plots (``*.png``) already in the folder are linked from the card.
    """
    plots = remote.glob_names(folder, "*.png")
    title = f"Model card: {b.model} (ds={b.ds})"
    content = sections(b, publication, plots)
    notice = remote.read_uri(f"{folder}/{NOTICE_FILE}")
    if notice is not None:  # the licences of the data the model derives from travel with it
        lines = [
            line for line in notice.decode("utf-8").splitlines() if line.strip() and not line.startswith("#")
        ]
        content.append(("Licences and notices", [f"From {NOTICE_FILE} beside this card:", *lines], None))
    md, page = f"{folder}/{CARD_MARKDOWN}", f"{folder}/{CARD_HTML}"
    _write(md, to_markdown(title, content))
    _write(page, to_html(title, content))
    return md, page


def _write(path: str, text: str) -> None:
    remote.write_uri(path, text.encode("utf-8"))  # atomic: a reader never sees half a card
