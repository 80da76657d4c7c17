"""The Great Expectations data context of the validation gate: stores, Data Docs site, tuning.

An ephemeral GE 1.x context: expectations, checkpoints and validation definitions in memory;
validation results as JSON under ``{root}/validation/gx_results`` and the Data Docs site under
``{root}/data_docs`` when the data root is a local folder, nothing written otherwise. GE is
imported inside the functions (importing it takes seconds).
"""

from __future__ import annotations

import functools
from typing import Any

from ecom_tasks import catalog, storage
from ecom_tasks.validation.config import ValidationConfig


@functools.cache
def tune_gx() -> None:
    """Two process-wide adjustments of GE internals that cost a lot here and buy nothing.

    - GE fingerprints every pandas batch under 1 GB by hashing all its values (about 4 s per
      2 million rows with Arrow strings); the fingerprint is only a marker in the result, and the
      partitions already carry content hashes in their manifests. Setting the threshold to 0
      skips it.
    - Data Docs builds a new Jinja environment for every page, so every template is compiled
      again each time (about 1 s per validation result). A shared in-memory bytecode cache makes
      the compiled templates reusable; the HTML is unchanged.
    """
    import jinja2
    from great_expectations.execution_engine import pandas_execution_engine
    from great_expectations.render.view import view

    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0

    class _MemoryBytecodeCache(jinja2.BytecodeCache):
        def __init__(self) -> None:
            self._code: dict[str, bytes] = {}

        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            if bucket.key in self._code:
                bucket.bytecode_from_string(self._code[bucket.key])

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            self._code[bucket.key] = bucket.bytecode_to_string()

    if getattr(view, "Environment", None) is jinja2.Environment:
        view.Environment = functools.partial(jinja2.Environment, bytecode_cache=_MemoryBytecodeCache())


def local_dir(root: str | None) -> str | None:
    """The local folder of the data root ``root``, or None (no root, or a remote one)."""
    if root is None:
        return None
    root = storage.data_root(root)
    if root.startswith("file://"):
        return root[len("file://") :]
    return None if "://" in root else root


def context_config(folder: str | None, config: ValidationConfig) -> Any:
    """The ``DataContextConfig`` of a gate writing under ``folder`` (None: in memory only)."""
    from great_expectations.data_context.types.base import DataContextConfig

    memory = {"class_name": "InMemoryStoreBackend"}
    results = memory
    sites: dict[str, Any] = {}
    if folder is not None:
        results = {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": f"{folder}/{catalog.VALIDATION}/{catalog.GX_RESULTS}",
        }
        if config.data_docs:
            sites["local_site"] = {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": f"{folder}/{catalog.DATA_DOCS}",
                },
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "validation_results_limit": config.data_docs_index_limit,
                },
            }
    return DataContextConfig(
        config_version=4,
        stores={
            "expectations_store": {"class_name": "ExpectationsStore", "store_backend": memory},
            "validation_results_store": {"class_name": "ValidationResultsStore", "store_backend": results},
            "checkpoint_store": {"class_name": "CheckpointStore", "store_backend": memory},
            "validation_definition_store": {
                "class_name": "ValidationDefinitionStore",
                "store_backend": memory,
            },
        },
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        checkpoint_store_name="checkpoint_store",
        data_docs_sites=sites,
        analytics_enabled=False,  # no network calls from a nightly job
        progress_bars={"globally": False, "metric_calculations": False},  # no bars in task logs
    )
