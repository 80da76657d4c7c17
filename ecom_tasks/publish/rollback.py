"""Inspection and rollback: list registered versions, move ``champion`` back to one of them.

A rollback is a deliberate manual step: it ignores the backfill rule, but the target version must
exist, must not have failed its serving check, and is loaded back and smoke-queried again before
the alias moves. The outputs pointer moves in the same locked step, to the target's ``ds``.
"""

from __future__ import annotations

import logging
from typing import Any

from ecom_tasks import storage
from ecom_tasks.errors import ConfigError
from ecom_tasks.publish import outputs, registry, tracking
from ecom_tasks.publish.config import PublishConfig
from ecom_tasks.publish.lock import RegistryError

log = logging.getLogger(__name__)


def list_models(
    root: str, model: str | None = None, config: PublishConfig | None = None
) -> list[dict[str, Any]]:
    """Every registered version of ``model`` (or of every configured model), oldest first.

    Each entry: ``{"model", "registered_name", "version", "ds", "champion", "aliases", "run_id",
    "serving_check", "forced", "metrics"}`` where ``metrics`` are the run's logged metrics
    restricted to the model's gated metrics.
    """
    cfg = config or PublishConfig()
    specs = [cfg.model(model)] if model else list(cfg.models)
    client = tracking.configure(root)
    rows = []
    for spec in specs:
        champ = registry.champion(client, spec.registered_name)
        try:
            gate = cfg.gate.for_model(spec.name)
            keys = tuple(dict.fromkeys([*gate.compare, *(t.metric for t in gate.thresholds)]))
        except ConfigError:
            keys = ()
        for mv in registry.list_versions(client, spec.registered_name):
            info = registry.version_summary(client, mv, keys)
            is_champion = champ is not None and str(champ.version) == str(mv.version)
            rows.append(
                {"model": spec.name, "registered_name": spec.registered_name, **info, "champion": is_champion}
            )
    return rows


def rollback(
    root: str, model_name: str, version: str | int, config: PublishConfig | None = None
) -> dict[str, Any]:
    """Move ``champion`` of ``model_name`` to ``version`` and the outputs pointer to its ``ds``.

    Returns ``{"model", "registered_name", "from_version", "to_version", "ds", "pointer"}``;
    raises :class:`RegistryError` naming the version when it is unknown or unservable.
    """
    from mlflow.exceptions import MlflowException

    cfg = config or PublishConfig()
    spec = cfg.model(model_name)
    client = tracking.configure(root)
    try:
        mv = client.get_model_version(spec.registered_name, str(version))
    except MlflowException:
        known = [str(v.version) for v in registry.list_versions(client, spec.registered_name)]
        raise RegistryError(
            f"{spec.registered_name}: no version {version!r}; known versions: {known}"
        ) from None
    ds = mv.tags.get(registry.TAG_DS)
    if not ds:
        raise RegistryError(
            f"{spec.registered_name} version {version}: no 'ds' tag; not published by this project"
        )
    if str(mv.tags.get(registry.TAG_SERVING, "")).startswith("failed"):
        raise RegistryError(
            f"{spec.registered_name} version {version} failed its serving check and cannot be champion: "
            f"{mv.tags[registry.TAG_SERVING]}"
        )
    folder = storage.partition_uri(root, spec.stage, spec.table, ds)
    registry.serving_check(client, spec.registered_name, mv.version, registry.read_smoke_input(folder))
    pointer: dict[str, Any] = {}

    def move() -> None:
        pointer.update(
            outputs.move_pointer(root, spec, str(mv.version), ds, require_outputs=cfg.require_outputs)
        )

    moved = registry.promote(
        client, root, spec.registered_name, mv, force=True, on_move=move, timeout_s=cfg.lock_timeout_s,
        rollback=True,
    )  # fmt: skip
    log.warning("ROLLBACK %s: champion %s -> version %s (ds=%s)", spec.registered_name,
                moved["previous_version"], mv.version, ds)  # fmt: skip
    return {
        "model": model_name,
        "registered_name": spec.registered_name,
        "from_version": moved["previous_version"],
        "to_version": str(mv.version),
        "ds": ds,
        "pointer": pointer or outputs.read_pointer(root),
    }
