"""Benchmark: ingest of the real UCI Online Retail II file (525,461 lines).

Times each step of the ingest on its own, best and median of ``--repeat`` runs, and prints one line
per step plus the total. Steps are plain functions registered in ``STEPS`` and run in order, each
taking the previous step's result, so the write step can be added as one more entry.

Run:
    .venv/bin/python bench/bench_ingest_online_retail.py [--path FILE] [--repeat 5] [--until 2010-06-30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ecom_tasks.ingest import IngestConfig, ingest
from ecom_tasks.sources.online_retail import load_lines, map_lines, read_online_retail

DEFAULT_PATH = (
    Path(__file__).resolve().parents[1].parent
    / "shared/data/online-retail-ii/online_retail_II_2009-2010.csv.gz"
)


def step_read_file(args: argparse.Namespace, _: Any) -> Any:
    """Parse the file into typed lines (I/O, CSV parsing, number and date parsing)."""
    return load_lines(args.path)


def step_map_tables(args: argparse.Namespace, lines: Any) -> Any:
    """Exclusions, stats, events, first-seen items and users (pure, no I/O)."""
    return map_lines(lines, args.until)


# (name, function): each gets the previous step's output; add the write step here later.
STEPS: list[tuple[str, Callable[[argparse.Namespace, Any], Any]]] = [
    ("read_file", step_read_file),
    ("map_tables", step_map_tables),
]


def _time(fn: Callable[[], Any], repeat: int) -> tuple[list[float], list[float], Any]:
    """Wall and CPU seconds of each run (CPU shows the cost when other jobs share the cores)."""
    wall, cpu, out = [], [], None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu, out


def _line(name: str, wall: list[float], cpu: list[float], extra: str = "") -> str:
    return (
        f"{name:<20} wall best {min(wall):6.3f} s  median {statistics.median(wall):6.3f} s"
        f"   cpu best {min(cpu):6.3f} s{extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--until", default=None, help="last day (YYYY-MM-DD) to ingest")
    args = parser.parse_args()
    print(f"file: {args.path} ({args.path.stat().st_size / 1e6:.1f} MB), repeat={args.repeat}")
    print(f"cpus: {os.cpu_count()}, load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    result: Any = None
    for name, fn in STEPS:
        wall, cpu, result = _time(lambda fn=fn, prev=result: fn(args, prev), args.repeat)
        print(_line(name, wall, cpu))
    wall, cpu, tables = _time(lambda: read_online_retail(args.path, args.until), args.repeat)
    n = tables.stats["lines_read"]
    print(_line("read_online_retail", wall, cpu, f"   ({n / min(wall) / 1e3:,.0f}k lines/s wall)"))
    print(
        f"lines_read={n:,} events={len(tables.events):,} items={len(tables.items):,} "
        f"users={len(tables.users):,}"
    )
    # The whole ingest stage: read, split into one partition per day, write events/items/users
    # with manifests into an empty root (first run) and again into the same root (a rerun,
    # where unchanged days are detected by content hash and left alone).
    last_day = args.until or str(tables.events["ts"].max().date())
    config = IngestConfig(source="online_retail", source_path=str(args.path))
    first, rerun = [], []
    for _ in range(args.repeat):
        root = tempfile.mkdtemp(prefix="bench-ingest-")
        try:
            w, _, summary = _time(lambda root=root: ingest(root, last_day, config), 1)
            first += w
            w2, _, _ = _time(lambda root=root: ingest(root, last_day, config), 1)
            rerun += w2
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print(_line("ingest (first run)", first, first, f"   ({summary['days_in_source']} days landed)"))
    print(_line("ingest (rerun)", rerun, rerun))


if __name__ == "__main__":
    main()
