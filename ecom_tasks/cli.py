"""The project's command line: what a run wrote, and the registered models.

Usage::

    ecom summary --ds 2024-03-31 [--root DIR]          # partitions and documents of one run
    ecom models list [--model churn]                   # versions with metrics, ds and aliases
    ecom models rollback --model churn --version 3     # move champion (and the outputs) back
    ecom verify [--stage raw] [--ds 2024-03-31] [--repair]  # recompute content hashes
    ecom ask "where is my order" [--customer 123] [--json]  # the published assistant's answer
    ecom assistant train --data CSV --out-of-scope JSON --out DIR   # also: evaluate, ask
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from ecom_tasks import catalog, fsio, storage
from ecom_tasks.assistant import cli as assistant_cli
from ecom_tasks.publish.cli import add_models_parser, run_models


def describe_run(root: str, ds: str) -> dict[str, object]:
    """Everything committed for ``ds`` under ``root``: partitions with row counts, and documents.

    Returns ``{"partitions": [{stage, table, rows, uri}], "documents": [paths], "skipped":
    [{model, ds, step, reason}]}``: ``skipped`` lists the models that stepped aside (not enough
    data), with their reasons.
    """
    day = storage.as_date(ds).isoformat()
    base = storage.data_root(root)
    fs, path = fsio.resolve(base)  # the root may be an object store: list it through fsspec

    def uri(p: str) -> str:  # the listed path under the root as the root spells it
        return p if fsio.is_local(fs) or not p.startswith(path) else base + p[len(path) :]

    partitions = []
    documents = []
    if fsio.exists(fs, path):
        for part in sorted(fs.glob(f"{path}/*/*/ds={day}")):
            manifest = storage.read_manifest(uri(part))
            stage, table = part.rsplit("/", 3)[-3:-1]
            if manifest is not None:
                rows = manifest.row_count
                partitions.append({"stage": stage, "table": table, "rows": rows, "uri": uri(part)})
            else:
                files = fs.ls(part, detail=True)
                documents.extend(
                    uri(f["name"]) for f in sorted(files, key=lambda f: f["name"]) if f["type"] == "file"
                )
    skipped = []
    for doc in documents:
        if doc.endswith(f"/{catalog.MODELS}/{doc.split('/')[-3]}/ds={day}/{catalog.SKIPPED_FILE}"):
            skipped.append(storage.read_json(doc))
    return {"ds": day, "root": base, "partitions": partitions, "documents": documents, "skipped": skipped}


def _print_summary(info: dict[str, object]) -> None:
    parts = info["partitions"]
    assert isinstance(parts, list)
    out = sys.stdout
    out.write(f"\nWhat the run for ds={info['ds']} left under {info['root']}:\n\n")
    if not parts:
        out.write("  nothing: no committed partition for this date\n")
    width = max((len(f"{p['stage']}/{p['table']}") for p in parts), default=10)
    for p in parts:
        name = f"{p['stage']}/{p['table']}"
        out.write(f"  {name:<{width}}  {p['rows']:>10,} rows  {p['uri']}\n")
    skipped = info.get("skipped") or []
    assert isinstance(skipped, list)
    if skipped:
        out.write("\nModels that stepped aside:\n")
        for record in skipped:
            verb = "not trained" if record.get("step") == "train" else "not gated"
            out.write(f"  {verb}: {record['reason']}\n")
    docs = info["documents"]
    assert isinstance(docs, list)
    if docs:
        out.write("\nDocuments:\n")
        for d in docs:
            out.write(f"  {d}\n")
    out.write("\n")


def run_verify(args: argparse.Namespace) -> int:
    """``ecom verify``: exit 0 when every partition checked is intact, 1 when one is corrupt."""
    from ecom_tasks import integrity, landing
    from ecom_tasks.writelock import writer_lock

    root = storage.data_root(args.root)
    stages = tuple(args.stage or integrity.DEFAULT_STAGES)
    days = [storage.as_date(d) for d in args.ds] if args.ds else None
    if args.repair:
        with writer_lock(root, "ecom verify --repair"):
            landing.recover(root)
            report = integrity.verify(root, stages, days, repair=True)
    else:
        report = integrity.verify(root, stages, days)
    out = sys.stdout
    out.write(f"checked {report['checked']} partition(s) of {', '.join(stages)} under {root}")
    out.write(f"; {report['migrated']} older manifest(s) given checksums\n")
    for bad in report["corrupt"]:
        out.write(f"CORRUPT {bad['partition']}: {bad['problem']}\n")
        if bad["moved_to"]:
            out.write(f"  moved to {bad['moved_to']}; the next nightly rebuilds it from its upstream\n")
    if report["corrupt"] and not args.repair:
        out.write("run again with --repair to set them aside, then rerun the nightly to rebuild them\n")
    return 1 if report["corrupt"] else 0


def run_ask(args: argparse.Namespace) -> int:
    """``ecom ask``: the published assistant's answer; exit 1 when none is published (the reason said)."""
    from ecom_tasks.assistant.answers import answer
    from ecom_tasks.errors import EcomError

    try:
        reply = answer(args.message, args.customer, root=storage.data_root(args.root))
    except EcomError as exc:
        sys.stderr.write(f"ecom ask: {exc}\n")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(reply, indent=2, default=str) + "\n")
        return 0
    out = sys.stdout
    out.write(f"{reply['answer']}\n\n")
    confidence = "-" if reply["confidence"] is None else f"{100 * reply['confidence']:.0f} %"
    out.write(f"intent: {reply['intent']} (confidence {confidence})")
    out.write(" out of scope" if reply["out_of_scope"] else "")
    slots = ", ".join(f"{s['type']}={s['value']}" for s in reply["slots"])
    out.write(f"; slots: {slots or 'none'}\n")
    for item in reply["items"]:
        price = f"  {item['price']:.2f}" if item.get("price") is not None else ""
        out.write(f"  {item['item_id']}  {item['title']}{price}\n")
    if reply["ticket"]:
        out.write(f"handed over: ticket {reply['ticket']['ticket_id']} ({reply['ticket']['reason']})\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ecom", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    summary = sub.add_parser("summary", help="what a run wrote for one date")
    summary.add_argument("--ds", required=True, help="the run's logical date, YYYY-MM-DD")
    summary.add_argument("--root", default=None, help="data root (default: $ECOM_DATA_ROOT)")
    summary.add_argument("--json", action="store_true", help="print JSON instead of a table")
    verify = sub.add_parser("verify", help="check partitions against their manifests (content hashes)")
    verify.add_argument(
        "--stage", action="append", help="stage to check (repeatable; default: all data stages)"
    )
    verify.add_argument("--ds", action="append", help="day to check, YYYY-MM-DD (repeatable; default: all)")
    verify.add_argument("--root", default=None, help="data root (default: $ECOM_DATA_ROOT)")
    verify.add_argument(
        "--repair",
        action="store_true",
        help="move corrupt partitions to corrupt/ so the nightly rebuilds them",
    )
    ask = sub.add_parser("ask", help="ask the published customer-service assistant")
    ask.add_argument("message", help="the customer's message")
    ask.add_argument("--customer", default=None, help="the customer's id (their orders, returns, picks)")
    ask.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    ask.add_argument("--root", default=None, help="data root (default: $ECOM_DATA_ROOT)")
    uri = sub.add_parser(
        "tracking-uri",
        help="print the MLflow registry's URI ($MLFLOW_TRACKING_URI, else the embedded SQLite store "
        'under the data root), for MLflow\'s own commands: export MLFLOW_TRACKING_URI="$(ecom tracking-uri)"',
    )
    uri.add_argument("--root", default=None, help="data root (default: $ECOM_DATA_ROOT)")
    add_models_parser(sub)
    assistant_cli.add_parser(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.command == "models":
        return run_models(args)
    if args.command == "verify":
        return run_verify(args)
    if args.command == "ask" or (args.command == "assistant" and args.assistant_command == "ask"):
        return run_ask(args)
    if args.command == "assistant":
        return assistant_cli.run(args)
    if args.command == "tracking-uri":
        from ecom_tasks.publish import tracking

        sys.stdout.write(tracking.tracking_uri(args.root) + "\n")
        return 0
    if args.command == "summary":
        info = describe_run(storage.data_root(args.root), args.ds)
        if args.json:
            sys.stdout.write(json.dumps(info, indent=2) + "\n")
        else:
            _print_summary(info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
