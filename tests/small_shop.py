"""The built-in shop the DAG-level tests run (tests/e2e, tests/ops), and its gate thresholds."""

from __future__ import annotations

from pathlib import Path

# Enough history for the heads' 90-day labels (their cutoff is ds - 90 days), small enough for CI;
# training epochs capped.
SMALL_SHOP = {
    "synthetic_users": 500,
    "synthetic_items": 100,
    "synthetic_start_date": "2023-09-01",
    "seed": 7,
    "epochs": 4,
}
# Sanity-floor gates: with ~50 test customers per head, calibration and baseline gaps are noise.
SMALL_SHOP_GATES = Path(__file__).resolve().parents[1] / "config" / "gates-small-shop.yaml"
