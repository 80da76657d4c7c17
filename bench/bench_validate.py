"""Benchmark: the validation gate on the real Online Retail II ingest and on a 10M-event shop.

Scenarios, each run in a fresh process so that its peak RSS is its own:

- ``online_retail``: land the real UCI Online Retail II file with the ingest stage (not timed),
  then validate every landed day with ``validate_landed``, as the first run after the ingest
  does (the backlog in batches, one Great Expectations run per batch; ``--per-day`` validates the
  days one by one with ``validate_partition`` instead, the way it was done before). Prints the
  total, the per-day cost, the verdicts and the warnings by rule, with Data Docs on (as in
  production) or off (``--no-docs``). The timed part starts after Great Expectations and the
  package are imported (the import, seconds once per process, is printed on its own line); it
  includes building the GE data context and everything ``validate_landed`` reads and writes.
- ``synthetic_day``: one day of a 10-million-event synthetic shop (written beforehand by
  ``bench/bench_synthetic.py --root DIR``; pass ``--synthetic-root DIR``).
- ``synthetic_batch``: all events of that shop as ONE batch (one raw partition, written once to
  ``{synthetic-root}-batch`` by a separate process), validated with a timestamp tolerance that
  spans the shop's days; items and users are the last day's snapshots.
- ``synthetic_backlog``: every landed day of that shop (~62 days, ~10M events) validated by
  ``validate_landed`` as a backlog, under a new root whose ``raw`` links to the shop's.

Targets (issue 3): the full Online Retail II ingest under 15 s; the 10M batch under 3 minutes with
peak memory under 6 GiB.

Usage:
    .venv/bin/python bench/bench_synthetic.py --root /tmp/shop10m          # once, ~10M events
    .venv/bin/python bench/bench_validate.py --scenario online_retail [--no-docs] [--days N] [--per-day]
    .venv/bin/python bench/bench_validate.py --scenario synthetic_day --synthetic-root /tmp/shop10m
    .venv/bin/python bench/bench_validate.py --scenario synthetic_batch --synthetic-root /tmp/shop10m
    .venv/bin/python bench/bench_validate.py --scenario synthetic_backlog --synthetic-root /tmp/shop10m
    .venv/bin/python bench/bench_validate.py --synthetic-root /tmp/shop10m  # all three
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from ecom_tasks import contract as c
from ecom_tasks import storage

log = logging.getLogger("bench_validate")
DEFAULT_RETAIL = (
    Path(__file__).resolve().parents[1].parent
    / "shared/data/online-retail-ii/online_retail_II_2009-2010.csv.gz"
)
SCENARIOS = ("online_retail", "synthetic_day", "synthetic_batch", "synthetic_backlog")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _import_gate() -> float:
    """Import the validation package and Great Expectations (timed apart: ~6 s, once per process)."""
    start = time.perf_counter()
    import great_expectations  # noqa: F401

    import ecom_tasks.validation  # noqa: F401

    return time.perf_counter() - start


def online_retail(args: argparse.Namespace) -> None:
    from ecom_tasks.ingest import IngestConfig, ingest
    from ecom_tasks.validation import ValidationConfig, ValidationFailed, summary_uri, validate_partition
    from ecom_tasks.validation.backlog import validate_landed

    root = args.root or tempfile.mkdtemp(prefix="bench_validate_")
    start = time.perf_counter()
    landed = ingest(root, "2010-12-09", IngestConfig(source="online_retail", source_path=str(args.path)))
    log.info("ingest (not timed): %d days in %.1f s", landed["days_in_source"], time.perf_counter() - start)
    days = storage.list_partitions(root, "raw", c.EVENTS)[: args.days or None]
    config = ValidationConfig(allow_empty_events=True, data_docs=not args.no_docs)
    import_s = _import_gate()
    statuses: collections.Counter[str] = collections.Counter()
    warned: collections.Counter[str] = collections.Counter()
    failures, rows = [], 0
    start, cpu = time.perf_counter(), time.process_time()
    if args.per_day:
        for day in days:
            try:
                validate_partition(root, day, config)
            except ValidationFailed as exc:
                failures.append(str(exc)[:300])
    else:
        try:
            validate_landed(root, days[-1], config)
        except ValidationFailed as exc:
            failures.append(str(exc)[:300])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    for day in days:  # verdicts from the summaries (not timed)
        try:
            summary = storage.read_json(summary_uri(root, day))
        except FileNotFoundError:
            statuses["not validated"] += 1
            continue
        statuses[summary["status"]] += 1
        rows += summary["tables"].get(c.EVENTS, {}).get("rows_in", 0)
        for line in summary["warnings"]:
            warned[line.split(" (")[0].split(" by ")[-1].split(": ")[-1]] += 1
    log.info("import of GE and the package: %.1f s (once per process, not in the timed part)", import_s)
    log.info(
        "validated %d days (%s), %d events: wall %.1f s (%.3f s/day), cpu %.1f s, data docs %s; "
        "load average %s",
        len(days),
        "one by one" if args.per_day else "as a backlog",
        rows,
        wall,
        wall / max(len(days), 1),
        cpu,
        "on" if config.data_docs else "off",
        " ".join(f"{x:.2f}" for x in os.getloadavg()),
    )
    log.info("verdicts: %s", dict(statuses))
    log.info("days with each warning: %s", dict(warned.most_common()))
    for line in failures[:10]:
        log.info("FAILED %s", line)
    log.info("peak RSS %.0f MiB; root %s", _peak_mib(), root)


def _synthetic_days(root: str) -> list[dt.date]:
    days = storage.list_partitions(root, "raw", c.EVENTS)
    if not days:
        raise SystemExit(f"no raw/events partitions under {root}: run bench/bench_synthetic.py --root {root}")
    return days


def synthetic_day(args: argparse.Namespace) -> None:
    from ecom_tasks.validation import ValidationConfig, validate_partition

    days = _synthetic_days(args.synthetic_root)
    day = days[len(days) // 2]
    with tempfile.TemporaryDirectory(prefix="bench_validate_day_") as root:
        for table in c.TABLES:  # a copy: the synthetic shop's own root stays untouched
            df = storage.read_partition(storage.partition_uri(args.synthetic_root, "raw", table, day))
            storage.write_partition(df, storage.partition_uri(root, "raw", table, day), source="bench")
        import_s = _import_gate()
        for attempt in ("first (builds the GE gate)", "second"):
            start, cpu = time.perf_counter(), time.process_time()
            out = validate_partition(root, day, ValidationConfig(data_docs=not args.no_docs))
            log.info(
                "one synthetic day %s, %s: wall %.2f s, cpu %.2f s, rows %s, %d warning(s)",
                day,
                attempt,
                time.perf_counter() - start,
                time.process_time() - cpu,
                out["rows"],
                out["n_warnings"],
            )
        log.info("import %.1f s; peak RSS %.0f MiB", import_s, _peak_mib())


def prepare_batch(args: argparse.Namespace) -> None:
    """Write every event of the synthetic shop as ONE raw partition (its last day) under a new root."""
    days = _synthetic_days(args.synthetic_root)
    root, last = _batch_root(args), days[-1]
    start = time.perf_counter()
    parts = [
        storage.read_partition(storage.partition_uri(args.synthetic_root, "raw", c.EVENTS, d)) for d in days
    ]
    events = pd.concat(parts, ignore_index=True)
    del parts
    storage.write_partition(events, storage.partition_uri(root, "raw", c.EVENTS, last), source="bench")
    for table in (c.ITEMS, c.USERS):
        df = storage.read_partition(storage.partition_uri(args.synthetic_root, "raw", table, last))
        storage.write_partition(df, storage.partition_uri(root, "raw", table, last), source="bench")
    span = (last - days[0]).days + 1
    storage.write_json({"ds": last.isoformat(), "span_days": span}, f"{root}/batch.json")
    log.info(
        "prepared one batch of %d events over %d days in %.1f s",
        len(events),
        span,
        time.perf_counter() - start,
    )


def _batch_root(args: argparse.Namespace) -> str:
    return f"{str(args.synthetic_root).rstrip('/')}-batch"


def synthetic_batch(args: argparse.Namespace) -> None:
    """Validate the one-batch root written by :func:`prepare_batch` (in a fresh process)."""
    from ecom_tasks.validation import ValidationConfig, ValidationFailed, validate_partition

    root = _batch_root(args)
    meta = storage.read_json(f"{root}/batch.json")
    import_s = _import_gate()
    config = ValidationConfig(ts_tolerance_minutes=meta["span_days"] * 24 * 60, data_docs=not args.no_docs)
    start, cpu = time.perf_counter(), time.process_time()
    try:
        out = validate_partition(root, meta["ds"], config)
        verdict = f"{out['status']}, rows {out['rows']}, {out['n_warnings']} warning(s)"
    except ValidationFailed as exc:
        verdict = f"FAILED: {str(exc)[:400]}"
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    log.info("one batch of the whole shop: wall %.1f s, cpu %.1f s: %s", wall, cpu, verdict)
    log.info("import %.1f s; peak RSS %.0f MiB", import_s, _peak_mib())


def synthetic_backlog(args: argparse.Namespace) -> None:
    """Validate every landed day of the synthetic shop as a backlog (``validate_landed``)."""
    from ecom_tasks.validation import ValidationConfig, ValidationFailed, summary_uri
    from ecom_tasks.validation.backlog import validate_landed

    days = _synthetic_days(args.synthetic_root)
    with tempfile.TemporaryDirectory(prefix="bench_validate_backlog_") as root:
        Path(root, "raw").symlink_to(Path(args.synthetic_root, "raw").resolve())  # only read
        import_s = _import_gate()
        config = ValidationConfig(data_docs=not args.no_docs)
        start, cpu = time.perf_counter(), time.process_time()
        try:
            out = validate_landed(root, days[-1], config)
            verdict = f"{len(out['days_validated'])} days validated, last day {out['status']}"
        except ValidationFailed as exc:
            verdict = f"FAILED: {str(exc)[:400]}"
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        statuses = collections.Counter(
            storage.read_json(summary_uri(root, d))["status"]
            for d in days
            if Path(summary_uri(root, d)).exists()
        )
        events = sum(
            storage.read_manifest(storage.partition_uri(root, "raw", c.EVENTS, d)).row_count for d in days
        )
        log.info(
            "backlog of %d days, %d events: wall %.1f s, cpu %.1f s: %s; verdicts %s",
            len(days),
            events,
            wall,
            cpu,
            verdict,
            dict(statuses),
        )
        log.info("import %.1f s; peak RSS %.0f MiB", import_s, _peak_mib())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario", choices=SCENARIOS, help="run one scenario here (default: all, each in a subprocess)"
    )
    parser.add_argument("--path", type=Path, default=DEFAULT_RETAIL, help="the Online Retail II file")
    parser.add_argument(
        "--root", default=None, help="data root for online_retail (default: a new temp folder)"
    )
    parser.add_argument("--days", type=int, default=0, help="online_retail: validate only the first N days")
    parser.add_argument(
        "--synthetic-root", default=None, help="root written by bench/bench_synthetic.py --root"
    )
    parser.add_argument("--no-docs", action="store_true", help="do not render Data Docs")
    parser.add_argument(
        "--per-day", action="store_true", help="online_retail: validate day by day (the old way)"
    )
    parser.add_argument("--prepare-batch", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    for noisy in ("ecom_tasks", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    if args.prepare_batch:
        prepare_batch(args)
        return 0
    if args.scenario:
        if args.scenario == "synthetic_batch" and not Path(_batch_root(args), "batch.json").exists():
            cmd = [sys.executable, __file__, "--prepare-batch", "--synthetic-root", str(args.synthetic_root)]
            subprocess.run(cmd, check=True)  # its own process: its memory is not this one's peak
        scenarios = {
            "online_retail": online_retail,
            "synthetic_day": synthetic_day,
            "synthetic_batch": synthetic_batch,
            "synthetic_backlog": synthetic_backlog,
        }
        scenarios[args.scenario](args)
        return 0
    rest = list(argv if argv is not None else sys.argv[1:])
    for scenario in SCENARIOS:
        if scenario != "online_retail" and not args.synthetic_root:
            log.info("skipping %s: no --synthetic-root", scenario)
            continue
        log.info("== %s", scenario)
        subprocess.run([sys.executable, __file__, "--scenario", scenario, *rest], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
