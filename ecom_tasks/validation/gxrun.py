"""Great Expectations: the data context, suites, checkpoints and Data Docs of the validation gate.

One :class:`GxGate` holds an ephemeral GE 1.x data context with a pandas data source, one
dataframe asset, suite, validation definition and checkpoint per batch (``events``,
``events_item_refs``, ``items``, ``users``). Suites are static: the day's interval and the
config's thresholds reach them as expectation parameters, so a gate is built once per process and
data root and reused for every day. With a local data root the checkpoints store the validation
results as JSON under ``{root}/validation/gx_results`` and the day's results are rendered into the
HTML site ``{root}/data_docs`` (Data Docs); without one (the pure core, tests) nothing is written.
A backlog of days runs through a second gate with rewritten suites (named ``*_backlog``, see
:mod:`ecom_tasks.validation.gxbatch`) whose results list the failing rows, to be split per day.

GE is imported only here and in :mod:`~ecom_tasks.validation.gxcontext` (the data context's
configuration), inside functions, so importing the package stays cheap (importing GE takes
about 6 s).
"""

from __future__ import annotations

import datetime as dt
import logging
import operator
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ecom_tasks import catalog, storage
from ecom_tasks.validation import gxcontext
from ecom_tasks.validation.config import CRITICAL, ValidationConfig
from ecom_tasks.validation.report import Outcome, jsonable
from ecom_tasks.validation.suites import Rule

log = logging.getLogger(__name__)

RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 5}
# A backlog runs as one batch of many days: GE must say which rows failed, so that its counts can
# be split per day. The index query (a pandas expression naming every failing row) is not needed.
BATCH_RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": 5,
    "return_unexpected_index_query": False,
}
_OPS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _expectation(rule: Rule) -> Any:
    import great_expectations as gx
    from great_expectations.expectations.row_conditions import Column

    cls = getattr(gx.expectations, "".join(p.capitalize() for p in rule.expectation.split("_")), None)
    if cls is None:
        raise ValueError(f"rule {rule.table}.{rule.id}: unknown expectation {rule.expectation!r}")
    kwargs = {
        k: {"$PARAMETER": v[1:]} if isinstance(v, str) and v.startswith("$") else v
        for k, v in rule.kwargs.items()
    }
    if rule.when is not None:
        kwargs["row_condition"] = _OPS[rule.when.op](Column(rule.when.column), rule.when.value)
    return cls(
        **kwargs,
        meta={"rule": rule.id, "table": rule.table, "severity": rule.severity},
        notes=f"[{rule.severity}] {rule.notes}".strip(),
        severity="critical" if rule.severity == CRITICAL else "warning",
    )


class GxGate:
    """A GE data context with one checkpoint per batch; build with :func:`gate_for`."""

    def __init__(
        self,
        root: str | None,
        config: ValidationConfig,
        rules: Sequence[Rule],
        result_format: Mapping[str, Any] = RESULT_FORMAT,
    ) -> None:
        import great_expectations as gx

        gxcontext.tune_gx()
        self.folder = gxcontext.local_dir(root)
        if root is not None and self.folder is None:
            log.warning("data root %s is not local: GE results and Data Docs are not persisted", root)
        project = gxcontext.context_config(self.folder, config)
        self.context = gx.get_context(mode="ephemeral", project_config=project)
        self.docs = self.folder is not None and config.data_docs
        source = self._source = self.context.data_sources.add_pandas("ecom")
        self.checkpoints: dict[str, Any] = {}
        batches: dict[str, list[Rule]] = {}
        for rule in rules:
            batches.setdefault(rule.batch, []).append(rule)
        for batch, batch_rules in batches.items():
            definition = source.add_dataframe_asset(batch).add_batch_definition_whole_dataframe("day")
            suite = self.context.suites.add(
                gx.ExpectationSuite(name=batch, expectations=[_expectation(r) for r in batch_rules])
            )
            validation = self.context.validation_definitions.add(
                gx.ValidationDefinition(name=batch, data=definition, suite=suite)
            )
            self.checkpoints[batch] = self.context.checkpoints.add(
                gx.Checkpoint(
                    name=f"validate_{batch}",
                    validation_definitions=[validation],
                    result_format=dict(result_format),
                )
            )
        self._suite_pages_built = False

    def run_day(
        self, ds: dt.date, batches: Mapping[str, pd.DataFrame], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Run the checkpoint of each batch on its frame, then update Data Docs once for the day.

        Returns ``{batch: GE suite validation result}``. The run id is derived from ``ds`` (no
        wall clock), so a rerun of the day replaces its stored results and Data Docs pages instead
        of adding more. Data Docs are built here, once for the day's results, rather than by an
        ``UpdateDataDocsAction`` on each checkpoint: that rebuilt the index (which reads every
        listed result) once per checkpoint and cost about 30% more time per day.
        """
        results, keys = self.run(f"ds={ds.isoformat()}", ds, batches, params)
        self.build_docs(keys)
        return results

    def run(
        self,
        run_name: str,
        run_date: dt.date,
        batches: Mapping[str, pd.DataFrame],
        params: Mapping[str, Any],
    ) -> tuple[dict[str, Any], list[Any]]:
        """Run the checkpoint of each batch on its frame; Data Docs are left to :meth:`build_docs`.

        Returns ``{batch: GE suite validation result}`` and the keys of the stored results. The
        run id is ``run_name`` at midnight UTC of ``run_date`` (no wall clock): a rerun replaces
        the stored results and pages of the same run instead of adding more.
        """
        from great_expectations.core.run_identifier import RunIdentifier

        run_time = dt.datetime(run_date.year, run_date.month, run_date.day, tzinfo=dt.UTC)
        run_id = RunIdentifier(run_name=run_name, run_time=run_time)
        results, keys = {}, []
        try:
            for batch, frame in batches.items():
                checkpoint_result = self.checkpoints[batch].run(
                    batch_parameters={"dataframe": frame}, expectation_parameters=dict(params), run_id=run_id
                )
                keys.extend(checkpoint_result.run_results)
                results[batch] = next(iter(checkpoint_result.run_results.values()))
        finally:
            self._release_batches()
        return results, keys

    def build_docs(self, keys: Sequence[Any]) -> None:
        """Render the validation results ``keys`` into Data Docs (and the suites' pages, once)."""
        from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

        if not self.docs or not keys:
            return
        keys = list(keys)
        if not self._suite_pages_built:  # the suites are static: render their pages once per process
            keys.extend(ExpectationSuiteIdentifier(name=b) for b in self.checkpoints)
            self._suite_pages_built = True
        self.context.build_data_docs(resource_identifiers=keys)

    def _release_batches(self) -> None:
        """Drop GE's references to the day's frames (its engine caches every batch it loaded).

        Without this a cached gate keeps the last day's four frames alive: for a 10M-event batch
        that is 1.8 GB held while the clean rows are written.
        """
        manager = self._source.get_execution_engine().batch_manager
        manager.batch_data_cache.clear()
        manager.reset_batch_cache()

    def docs_index(self) -> str | None:
        """The URL of the Data Docs index page, when this gate writes Data Docs."""
        if not self.docs:
            return None
        return f"file://{self.folder}/{catalog.DATA_DOCS}/{catalog.DATA_DOCS_INDEX}"


_GATES: dict[tuple[Any, ...], GxGate] = {}


def gate_for(
    root: str | None,
    config: ValidationConfig,
    rules: Sequence[Rule],
    result_format: Mapping[str, Any] = RESULT_FORMAT,
) -> GxGate:
    """A gate for ``root`` (``None``: in memory, no files), built once per process and reused.

    The day gate and the backlog gate (other suites, ``BATCH_RESULT_FORMAT``) are cached apart.
    """
    key = (
        None if root is None else storage.data_root(root),
        config.data_docs,
        config.data_docs_index_limit,
        tuple(sorted({r.batch for r in rules})),
        tuple(sorted(result_format.items())),
    )
    if key not in _GATES:
        _GATES[key] = GxGate(root, config, rules, result_format)
    return _GATES[key]


def outcomes(result: Any, rules: Mapping[str, Rule]) -> dict[str, Outcome]:
    """``{rule id: Outcome}`` from a GE suite validation result (its results come in any order)."""
    out = {}
    for item in result.results:
        rule = rules[item.expectation_config.meta["rule"]]
        res = dict(item.result or {})
        detail = ""
        info = item.exception_info or {}
        errors = [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
        if info.get("raised_exception") or errors:
            message = (errors[0] if errors else info).get("exception_message") or "unknown error"
            detail = f"could not be evaluated: {str(message).splitlines()[0][:200]}"
        mismatch = (res.get("details") or {}).get("mismatched")
        if mismatch:
            detail = f"missing {mismatch.get('missing') or []}, unexpected {mismatch.get('unexpected') or []}"
        observed = res.get("observed_value")
        if not item.success and not detail and res.get("unexpected_count") is None:
            kw = item.expectation_config.kwargs
            bounds = [f"{k} {jsonable(kw[k])}" for k in ("min_value", "max_value") if kw.get(k) is not None]
            detail = f"expected {', '.join(bounds)}" if bounds else ""
        if observed is None and res.get("partial_unexpected_list"):
            observed = [str(v) for v in res["partial_unexpected_list"][:3]]
        if not item.success and rule.notes:
            detail = f"{detail}: {rule.notes}" if detail else rule.notes
        out[rule.id] = Outcome(
            id=rule.id,
            table=rule.table,
            check=rule.expectation,
            severity=rule.severity,
            success=bool(item.success),
            observed=jsonable(observed),
            unexpected_count=res.get("unexpected_count"),
            element_count=res.get("element_count"),
            detail=detail,
            column=rule.column,
            where=None if rule.when is None else f"{rule.when.column} {rule.when.op} {rule.when.value}",
        )
    return out
