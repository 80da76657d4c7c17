"""What the routes render: each method turns request parameters (already parsed) into the data
of one endpoint or the template context of the page, by calling :mod:`ecom_tasks.ui`.

The query modules (pandas, pyarrow, MLflow on demand) are imported on first use so that loading
the plugin stays cheap for Airflow processes that never serve the page.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from pathlib import Path
from typing import Any

from ecom_tasks.ui import inputs
from ecom_tasks.ui.config import UIConfig

log = logging.getLogger(__name__)

MAX_DAY_OPTIONS = 90
_PLOT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.png")  # a card's plots: a plain name, no path


class PageBuilder:
    """Holds the table cache of one app; every method reads the data root afresh."""

    def __init__(self, root: str | None, config: UIConfig) -> None:
        self._root = root
        self.config = config

    @property
    def root(self) -> str:
        from ecom_tasks import storage

        return storage.data_root(self._root)

    @functools.cached_property
    def cache(self) -> Any:
        from ecom_tasks.ui.cache import TableCache

        return TableCache()

    # ------------------------------------------------------------------------------------ JSON
    def customer(self, customer: str, ds: dt.date | None) -> dict[str, Any]:
        from ecom_tasks.ui import customers

        return customers.lookup_customer(self.root, customer, ds, self.cache, self.config)

    def models(self) -> list[dict[str, Any]]:
        from ecom_tasks.ui import models

        return models.models_overview(self.root, self.cache, self.config)

    def quality(self, ds: dt.date | None) -> dict[str, Any]:
        from ecom_tasks.ui import quality

        return quality.data_quality(self.root, ds, self.config)

    def analytics(self, ds: dt.date | None) -> dict[str, Any]:
        from ecom_tasks.ui import quality

        return {
            "funnel": quality.funnel(self.root, ds, self.cache, self.config),
            "retention": quality.retention(self.root, ds, self.cache, self.config),
        }

    def monitoring(self, ds: dt.date | None) -> dict[str, Any]:
        """The monitoring section (nights up to ``ds``): realized performance with its charts, drift
        per feature worst first, recent monitoring alerts."""
        from ecom_tasks.ui import charts, monitoring

        data = monitoring.monitoring_overview(self.root, ds)
        lists, scores = data["realized"]["lists"], data["realized"]["scores"]
        data["charts"] = {}
        # A chart needs two nights; with one, the sentence above it says everything.
        if lists and len(lists["nights"]) > 1:
            for key, what in (
                ("hit_rate", "hit rate at 20 by night (% of buyers with a recommended item)"),
                ("recall", "recall at 20 by night (% of the items bought that were recommended)"),
            ):
                series = {"published lists": lists[key], "popularity": lists[f"popularity_{key}"]}
                data["charts"][key] = charts.line_chart(lists["nights"], series, f"Realized {what}")
        nights = sorted({n for s in scores.values() for n in s["nights"]})
        if len(nights) > 1:
            series = {m: [dict(zip(s["nights"], s["roc_auc"], strict=True)).get(n) for n in nights]
                      for m, s in scores.items()}  # fmt: skip
            data["charts"]["roc_auc"] = charts.line_chart(
                nights, series, "Realized ROC AUC by night, once the label window closed"
            )
        data["charts"] |= monitoring.forecast_and_assistant_charts(data["realized"])
        return data

    def stage_section(self, name: str, ds: dt.date | None, query: dict[str, str]) -> dict[str, Any]:
        """One model stage's own section data (``ModelStage.ui``); NotFound for any other name."""
        from ecom_tasks.ui import sections

        for stage in sections.section_stages():
            if stage.name == name:
                return sections.build(stage, self.section_request(ds, query))
        raise inputs.NotFound("no model with a section of that name")

    def section_request(self, day: dt.date | None, query: dict[str, str]) -> Any:
        """What a model stage's section function gets for ``day`` and ``query``."""
        from ecom_tasks.ui.sections import SectionRequest

        return SectionRequest(self.root, day, dict(query), self.cache, self.config)

    def days(self) -> dict[str, list[str]]:
        from ecom_tasks.ui import customers, quality

        found = {
            "validation": quality.summary_days(self.root),
            "reports": quality.report_days(self.root),
            "profiles": customers.profile_days(self.root),
        }
        return {k: [d.isoformat() for d in v] for k, v in found.items()}

    # ----------------------------------------------------------------------------------- files
    def report(self, ds: dt.date) -> Path:
        from ecom_tasks.ui import quality

        return quality.report_file(self.root, ds)

    def card(self, model: str, ds: dt.date) -> Path:
        from ecom_tasks.ui import models

        spec = self._spec(model)
        found = models.card_path(self.root, spec, ds.isoformat())
        if found is None:
            raise inputs.NotFound(f"no model card for {spec.name} ds={ds.isoformat()}")
        return found

    def card_file(self, model: str, ds: dt.date, name: str) -> Path:
        """A plot beside the model card (``*.png`` in the candidate's folder); NotFound otherwise."""
        from ecom_tasks.ui import files

        spec = self._spec(model)
        if not _PLOT.fullmatch(name):
            raise inputs.NotFound("no such file beside the model card")
        found = files.data_file(self.root, name, spec.stage, spec.table, f"ds={ds.isoformat()}")
        if found is None:
            raise inputs.NotFound(f"no {name} beside the model card of {spec.name} ds={ds.isoformat()}")
        return found

    def _spec(self, model: str) -> Any:
        from ecom_tasks.errors import ConfigError
        from ecom_tasks.publish.config import PublishConfig

        try:
            return PublishConfig().model(model)
        except ConfigError:
            raise inputs.NotFound("no such model") from None

    def data_docs(self, relative: str) -> Path:
        from ecom_tasks.ui import quality

        return quality.data_docs_file(self.root, relative)

    # ------------------------------------------------------------------------------------ page
    def page(
        self,
        customer: str | None,
        ds: str | None,
        query: dict[str, str] | None = None,
        templates: set[str] = frozenset(),
    ) -> tuple[dict[str, Any], int]:
        """The template context of the page and its HTTP status (4xx when the input was bad).

        Args:
            query: the page's whole query string, for the model stages' own sections.
            templates: the template names available (a stage's own section template, or generic).
        """
        from ecom_tasks.ui import charts, labels, sections

        status, notices = 200, []
        # The overview changes once a night: reused for ``refresh_s`` so an explorer answer stays fast.
        ttl, fresh = self.config.refresh_s, self.cache.ttl
        days = fresh(("page", "days"), ttl, self.days)
        known = sorted({d for v in days.values() for d in v}, reverse=True)
        day: dt.date | None = None
        if ds:
            try:
                day = inputs.logical_date(ds)
            except inputs.BadInput as exc:
                status, day = 422, None
                notices.append(str(exc))
            if day is not None and day.isoformat() not in known:
                status, day = 404, None
                notices.append("nothing is published for that ds; showing the newest day")

        models = fresh(("page", "models"), ttl, self.models)
        for m in models:
            decisions = m["decisions"][::-1]
            metric = m["key_metrics"][0] if m["key_metrics"] else None
            name = labels.metric_label(metric) if metric else "no gated metric"
            m["chart"] = charts.line_chart(
                [d["ds"] for d in decisions],
                {name: [d["metrics"].get(metric) for d in decisions]},
                f"{name}, by night (hollow point = blocked by the gate)",
                markers={name: [not d["blessed"] for d in decisions]},
                percent=bool(metric) and labels.metric(metric)[1] == labels.SHARE,
            )
        section_notes: dict[str, str] = {}
        quality = self._section("quality", ("page", "quality", day), lambda: self.quality(day), section_notes)
        analytics = self._section("analytics", ("page", "analytics", day), lambda: self.analytics(day),
                                  section_notes) or {}  # fmt: skip
        funnel, cohorts = analytics.get("funnel") or {}, analytics.get("retention") or {}
        totals = funnel.get("totals") or {}
        steps = [("sessions", "sessions"), ("viewed", "with_view"), ("added to cart", "with_cart"),
                 ("purchased", "with_purchase")]  # fmt: skip
        window = f", {len(funnel['days'])} days to {labels.date(funnel['ds'])}" if funnel.get("ds") else ""
        charts_svg = {
            "funnel": charts.bar_chart(
                [(label, totals.get(key, 0.0)) for label, key in steps], f"Sessions by furthest step{window}"
            ),
            "conversion": charts.line_chart(
                funnel.get("days", []),
                {"sessions with a purchase": funnel.get("conversion", [])},
                "Share of sessions with a purchase, by day",
                percent=True,
            ),
            "cohorts": charts.heatmap(
                cohorts.get("cohorts", []),
                cohorts.get("periods", []),
                cohorts.get("matrix", []),
                "Monthly cohort retention (% of the cohort buying n months later)",
            ),
        }
        shown_day = day.isoformat() if day else (known[0] if known else None)
        report_day = shown_day if shown_day in days["reports"] else (days["reports"] or [None])[-1]

        explorer: dict[str, Any] = {"customer": "", "result": None, "error": None}
        if customer is not None:
            try:
                cid = inputs.customer_id(customer, self.config)
                explorer["customer"] = cid
                explorer["result"] = self.customer(cid, day)
            except inputs.BadInput as exc:
                status, explorer["error"] = 422, str(exc)
            except inputs.NotFound as exc:
                status, explorer["error"] = 404, str(exc)
        stage_sections, section_status = sections.page_sections(
            self.section_request(day, query or {}), set(templates)
        )
        status = status if status != 200 else section_status
        context = {
            "stage_sections": stage_sections,
            "days": [(d, _day_label(d, days)) for d in known[:MAX_DAY_OPTIONS]],
            "built": bool(set(days["profiles"]) | set(days["reports"])),
            "day": shown_day,
            "report_day": report_day,
            "notices": notices,
            "section_notes": section_notes,
            "models": models,
            "monitoring": self._section(
                "monitoring", ("page", "monitoring", day), lambda: self.monitoring(day), section_notes
            ),
            "quality": quality,
            "charts": charts_svg,
            "explorer": explorer,
            "config": self.config,
        }
        return context, status

    def _section(self, name: str, key: tuple, build: Any, notes: dict[str, str]) -> Any:
        """A section's data (reused for ``refresh_s``); on NotFound a note in its place."""
        try:
            return self.cache.ttl(key, self.config.refresh_s, build)
        except inputs.NotFound as exc:
            notes[name] = str(exc)
            return None


def _day_label(day: str, days: dict[str, list[str]]) -> str:
    """A day of the selector and what it has: the nightly build runs features, the report and the
    models for its own day only, while validation may have run for a whole backlog of days."""
    built = day in days["profiles"] or day in days["reports"]
    return day if built else f"{day} (data quality only)"
