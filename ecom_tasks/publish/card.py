"""The model card, in Markdown and HTML: what was trained on which data, how it scored, what the
gate decided, and where it came from.

Built from the :class:`~ecom_tasks.publish.gate.Blessing` (metrics, baselines, champion, checks,
lineage) so its figures are the ones the gate judged and the run logged to MLflow; each metric is
printed with its plain label and unit (:mod:`ecom_tasks.ui.labels`) beside its MLflow name.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ecom_tasks import remote
from ecom_tasks.catalog import NOTICE_FILE
from ecom_tasks.publish.config import CARD_HTML, CARD_MARKDOWN
from ecom_tasks.publish.gate import Blessing
from ecom_tasks.ui import labels

_CSS = (
    "body{font-family:sans-serif;max-width:75em;margin:2em auto}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}"
)
_FINETUNED = "finetuned"  # the heads' fine-tuned model (finetuned_*) when a baseline is published
# Prefixes of models measured alongside the candidate that are not gate baselines (see _alongside).
_ALONGSIDE = (_FINETUNED, "global", "global_noemb", "iforest", "ecod", "copod", "hbos", "ensemble",
              "pretrained", "nopretrain", "tfidf", "rules")  # fmt: skip
Table = tuple[list[str], list[list[str]]]
Section = tuple[str, list[str], Table | None]  # title, paragraphs, optional table


def fmt(value: float | str | None) -> str:
    """A figure with 4 decimals, ``-`` when absent (gate check details, lineage)."""
    if value is None:
        return "-"
    if isinstance(value, int | float):
        return f"{value:.4f}"
    return str(value)


def _order(b: Blessing) -> list[str]:
    """The candidate's metrics: the gated ones first, counts last, the rest by label."""
    gated = [c.metric for c in b.checks if c.metric]
    rest = sorted(set(b.metrics) - set(gated), key=lambda k: (labels.metric(k)[1] == labels.COUNT,
                                                               labels.metric_label(k)))  # fmt: skip
    return [m for m in dict.fromkeys(gated) if m in b.metrics] + rest


def _alongside(b: Blessing) -> dict[str, dict[str, Any]]:
    """Models measured in the same run beside the candidate and the gate's baselines, whose figures
    sit under a ``<name>_`` prefix of the candidate's metrics: the heads' fine-tuned model when a
    baseline is published, the forecast's model without embeddings, the anomaly stage's single
    detectors. Each gets a column of its own rather than a row per figure."""
    out: dict[str, dict[str, Any]] = {}
    claimed: set[str] = set()
    for name in sorted(_ALONGSIDE, key=len, reverse=True):  # global_noemb_ before global_
        if name in b.baselines or name == b.selected:
            continue
        if name == _FINETUNED and not labels.is_baseline(b.selected, list(b.baselines)):
            continue  # the fine-tuned head is the candidate itself
        prefix = f"{name}_"
        found = [k for k in b.metrics if k.startswith(prefix) and k not in claimed]
        if found:
            claimed |= set(found)
            out[name] = {k.removeprefix(prefix): b.metrics[k] for k in found}
    return out


def _metrics_table(b: Blessing) -> Table:
    """Plain labels and units; the models measured alongside (see :func:`_alongside`) in columns."""
    baselines = sorted(b.baselines)
    alongside = _alongside(b)
    claimed = {f"{name}_{k}" for name, figures in alongside.items() for k in figures}
    champ = "current champion" + (f" (version {b.champion_version})" if b.champion_version else "")
    candidate = f"candidate ({labels.model_name(b.selected)})" if b.selected else "candidate"
    header = ["metric", candidate, champ, *(labels.model_name(n) for n in baselines)]
    header += [f"{labels.model_name(n)} (not published)" for n in alongside]
    header.append("MLflow name")
    rows = []
    # A figure only a model alongside has (its training time) still gets a row, "-" elsewhere.
    only_alongside = sorted({k for f in alongside.values() for k in f} - set(b.metrics))
    for metric in [*_order(b), *only_alongside]:
        if metric in claimed or metric.startswith(f"{_FINETUNED}_"):
            continue  # in its column, or the published head's own flags
        value = b.metrics.get(metric)
        row = [labels.metric_label(metric), labels.metric_value(metric, value),
               labels.metric_value(metric, (b.champion_metrics or {}).get(metric))]  # fmt: skip
        row += [labels.metric_value(metric, b.baselines[name].get(metric)) for name in baselines]
        row += [labels.metric_value(metric, figures.get(metric)) for figures in alongside.values()]
        rows.append([*row, metric])
    return header, rows


def _interval(c: Any) -> str:
    """The candidate's gain over the model it is compared with, as a 95% interval (or "-")."""
    if not c.interval:
        return "-"
    low, high = c.interval
    if c.metric and labels.metric(c.metric)[1] == labels.SHARE:
        return f"{low * 100:+.1f} to {high * 100:+.1f} points"
    return f"{low:+.4f} to {high:+.4f}"


def _checks_table(b: Blessing) -> Table:
    header = ["check", "value", "rule", "outcome", "gain interval (95%, positive = better)", "detail"]
    rows = []
    for c in b.checks:
        value = labels.metric_value(c.metric, c.value) if c.metric else fmt(c.value)
        bound = c.threshold
        if c.metric and isinstance(bound, int | float) and not isinstance(bound, bool):
            bound = labels.metric_value(c.metric, bound)
        rows.append(
            [c.name, value, f"{c.comparator} {fmt(bound)}", c.outcome.upper(), _interval(c), c.detail]
        )
    return header, rows


def _status(b: Blessing) -> list[str]:
    status = "BLESSED" if b.blessed else f"BLOCKED - failing checks: {', '.join(b.failing)}"
    if b.forced:
        status += " (forced over a newer champion)"
    out = [f"Gate: **{status}**"]
    if b.selected and labels.is_baseline(b.selected, list(b.baselines)):
        out.append(
            f"**A baseline is published, not the fine-tuned model**: {labels.model_name(b.selected)}. "
            + (f"Why: {b.selection}." if b.selection else "")
        )
    elif b.selected:
        out.append(f"Published model: {labels.model_name(b.selected)}." + (
            f" Why: {b.selection}." if b.selection else ""))  # fmt: skip
    return out


def sections(
    b: Blessing, publication: Mapping[str, Any] | None = None, plots: Sequence[str] = ()
) -> list[Section]:
    """The card's content, independent of the output format."""
    lin = b.lineage
    window = lin.get("data_window", {})
    out: list[Section] = [
        ("Status", _status(b), None),
        ("Training data", [f"Trained on {labels.data_window(window)}."], None),
        (
            "Metrics against the champion and the baselines",
            ["Same held-out test data, same run. Shares are percentages of the test set."],
            _metrics_table(b),
        ),
        ("Gate checks", [], _checks_table(b)),
    ]
    if publication:
        rows = [[labels.readable(k), labels.number(v) if isinstance(v, bool) else str(v)]
                for k, v in publication.items() if v is not None]  # fmt: skip
        out.append(("Publication", [], (["", "value"], rows)))
    rows = [
        [labels.readable(k), str(lin.get(k, "-"))]
        for k in ("run_id", "code_version", "fingerprint", "artifact", "artifact_hash")
    ]
    rows += [[f"input {name} (content hash)", h] for name, h in sorted(lin.get("inputs", {}).items())]
    out.append(("Lineage", [], (["", "value"], rows)))
    if plots:
        note = ("Reliability: the observed rate against the score, per band of scores; "
                "on the diagonal the scores are calibrated.")  # fmt: skip
        out.append(("Plots", [note, *(f"![{p}]({p})" for p in plots)], None))
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
                alt = labels.readable(src.rsplit(".", 1)[0]) + " plot"
                parts.append(f"<p><img src='{e(src)}' alt='{e(alt)}' style='max-width:100%'></p>")
            else:
                parts.append("<p>" + re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", e(p)).replace("**", "") + "</p>")
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
    title = f"Model card: {b.model}, trained on {labels.date(b.ds)} (ds={b.ds})"
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


# --- a later night that did not replace this champion (not enough data): its reason on the card ---
_NOTE = re.compile(r"<!-- ecom:not-trained -->.*?<!-- /ecom:not-trained -->\n*", re.S)


def _note_block(reason: str, as_html: bool) -> str:
    text = f"Latest night: {reason}. This version stays the champion."
    body = f"<p><strong>{html.escape(text)}</strong></p>" if as_html else f"> **{text}**\n"
    return f"<!-- ecom:not-trained -->\n{body}\n<!-- /ecom:not-trained -->\n\n"


def note_not_trained(folder: str, reason: str | None, ds: str | None = None) -> None:
    """Show a later night's skip (``"churn not trained on ds=D: needs ..."``) under the title of the card
    in ``folder`` (the champion's), replacing an earlier note. ``reason=None`` removes the note (only
    one about ``ds=<ds>`` when ``ds`` is given). A folder without a card is left alone."""
    for name, as_html in ((CARD_MARKDOWN, False), (CARD_HTML, True)):
        path = f"{folder}/{name}"
        raw = remote.read_uri(path)
        if raw is None:
            continue
        text = raw.decode("utf-8")
        found = _NOTE.search(text)
        if reason is None and (found is None or (ds and f"ds={ds}" not in found.group(0))):
            continue
        text = _NOTE.sub("", text)
        if reason is not None:
            end = text.index("</h1>") + len("</h1>\n") if as_html else text.index("\n") + 2
            text = text[:end] + _note_block(reason, as_html) + text[end:]
        _write(path, text)
