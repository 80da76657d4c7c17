"""Failure alerts: what the DAGs' failure callbacks do, and how a team points them at its alerting.

Every failed task (after its retries) and every failed DAG run produces one alert:

1. logged at ERROR (it shows in the task's log in the UI),
2. appended as one JSON line to ``{root}/alerts/alerts.jsonl`` (what, when, where, why, log URL),
3. POSTed as JSON to ``$ECOM_ALERT_WEBHOOK`` when set (Slack/Teams/Opsgenie-style incoming webhooks
   accept a JSON body; a ``text`` field carries the one-line summary),
4. handed to ``$ECOM_ALERT_CALLBACK`` (``"package.module:function"``, called with the alert dict)
   when set, for anything else (PagerDuty, e-mail, an incident bot).

Stages that find something a person should look at (a day's anomalies, a realized figure below its
gate) send their own alerts through the same channels with :func:`deliver` (``kind`` tells them
apart from failures). An alert that cannot be delivered is logged and never raises: a broken
webhook must not hide the original failure or fail the callback machinery.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from ecom_tasks import catalog, remote, storage

log = logging.getLogger(__name__)

WEBHOOK_ENV = "ECOM_ALERT_WEBHOOK"
CALLBACK_ENV = "ECOM_ALERT_CALLBACK"
ALERTS_FILE = catalog.ALERTS_FILE  # {root}/alerts/alerts.jsonl


def build_alert(context: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-ready summary of a failure from an Airflow callback ``context``."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    error = context.get("exception") or context.get("reason")
    alert = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "dag_id": getattr(dag_run, "dag_id", None) or getattr(ti, "dag_id", None),
        "run_id": getattr(dag_run, "run_id", None) or getattr(ti, "run_id", None),
        "task_id": getattr(ti, "task_id", None),
        "try_number": getattr(ti, "try_number", None),
        "logical_date": str(context.get("logical_date") or ""),
        "error": f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error,
        "log_url": getattr(ti, "log_url", None),
    }
    where = f"{alert['dag_id']}.{alert['task_id']}" if alert["task_id"] else f"{alert['dag_id']}"
    alert["text"] = f"FAILED {where} run {alert['run_id']}: {alert['error']}"
    return alert


def _post(url: str, alert: dict[str, Any]) -> None:
    import httpx

    response = httpx.post(url, json=alert, timeout=10.0)
    response.raise_for_status()


def _call(target: str, alert: dict[str, Any]) -> None:
    module, _, name = target.partition(":")
    if not module or not name:
        raise ValueError(f"{CALLBACK_ENV}: {target!r} is not of the form 'package.module:function'")
    getattr(importlib.import_module(module), name)(alert)


def notify_failure(context: Mapping[str, Any], root: str | None = None) -> dict[str, Any]:
    """Deliver one alert for a failed task or run (see the module docstring); returns the alert."""
    return deliver(build_alert(context), root)


def deliver(alert: dict[str, Any], root: str | None = None, *, level: int = logging.ERROR) -> dict[str, Any]:
    """Send ``alert`` through every configured channel (log, alerts.jsonl, webhook, callback).

    For alerts that are not task failures (a day's anomalies, a realized figure below its gate):
    ``alert`` needs a one-line ``text``; ``kind`` (``failure``, ``anomalies``, ``monitoring``...)
    lets a receiver route it. Never raises on a delivery problem. Returns the alert.
    """
    alert.setdefault("kind", "failure")
    alert.setdefault("at", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    log.log(level, "ALERT %s", alert["text"])
    try:
        remote.append_line(f"{storage.data_root(root)}/{ALERTS_FILE}", json.dumps(alert, default=str))
    except Exception as exc:  # an unreachable store (OSError, a client error) must not hide the failure
        log.warning("could not record the alert under the data root: %s", exc)
    for env, send in ((WEBHOOK_ENV, _post), (CALLBACK_ENV, _call)):
        target = os.environ.get(env)
        if not target:
            continue
        try:
            send(target, alert)
        except Exception as exc:  # never mask the failure being reported
            log.warning("alert delivery via %s (%s) failed: %s", env, target, exc)
    return alert
