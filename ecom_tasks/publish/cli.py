"""``models`` commands: list registered versions, roll the champion back.

Usage::

    python -m ecom_tasks.publish.cli models list [--model NAME] [--root DIR] [--json]
    python -m ecom_tasks.publish.cli models rollback --model NAME --version V [--root DIR]

The project's ``ecom`` command adds the same subcommands with :func:`add_models_parser` and
dispatches them with :func:`run_models`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from ecom_tasks import storage


def add_models_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``models list`` and ``models rollback`` to an argparse ``subparsers`` object."""
    models = subparsers.add_parser("models", help="registered model versions: list, rollback")
    actions = models.add_subparsers(dest="models_command", required=True)
    listing = actions.add_parser("list", help="versions with their metrics, ds and aliases")
    listing.add_argument("--model", default=None, help="one model (default: every configured model)")
    back = actions.add_parser("rollback", help="move champion (and the outputs pointer) to a version")
    back.add_argument("--model", required=True, help="the model, e.g. churn")
    back.add_argument("--version", required=True, help="the registry version to make champion")
    for sub in (listing, back):
        sub.add_argument("--root", default=None, help="data root (default: $ECOM_DATA_ROOT)")
        sub.add_argument("--json", action="store_true", help="print JSON")
    return models


def _print_versions(rows: list[dict[str, Any]]) -> None:
    out = sys.stdout
    if not rows:
        out.write("no registered versions\n")
        return
    for r in rows:
        mark = "*" if r["champion"] else " "
        figures = ", ".join(f"{k}={v:.4f}" for k, v in r["metrics"].items())
        out.write(
            f"{mark} {r['registered_name']:<18} v{r['version']:<4} ds={r['ds'] or '-':<10}  "
            f"serving={r['serving_check'] or '-':<6}  {figures}\n"
        )
    out.write("(* = champion)\n")


def run_models(args: argparse.Namespace) -> int:
    """Run a parsed ``models`` command; returns the exit status."""
    from ecom_tasks.errors import EcomError
    from ecom_tasks.publish import rollback

    root = storage.data_root(args.root)
    try:
        if args.models_command == "list":
            rows = rollback.list_models(root, args.model)
            if args.json:
                sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
            else:
                _print_versions(rows)
        else:
            result = rollback.rollback(root, args.model, args.version)
            if args.json:
                sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
            else:
                name, old, new = result["registered_name"], result["from_version"], result["to_version"]
                sys.stdout.write(
                    f"{name}: champion {old} -> {new} (ds={result['ds']}); outputs pointer moved\n"
                )
    except EcomError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ecom", description=__doc__.splitlines()[0])
    add_models_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return run_models(args)


if __name__ == "__main__":
    raise SystemExit(main())
