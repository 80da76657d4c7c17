"""Drift of a distribution against a reference: population stability index and a two-sample KS test.

PSI over ``bins`` quantile bins of the reference (edges from the reference alone, duplicates
merged, so a feature with many ties gets fewer bins): ``sum((c - r) * ln(c / r))`` over the bins'
shares ``r`` (reference) and ``c`` (current), each floored at ``EPS`` so an empty bin does not
make it infinite. Rule of thumb: below 0.1 stable, 0.1-0.25 moderate, above 0.25 a major shift.
The KS statistic and p-value come from :func:`scipy.stats.ks_2samp`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

EPS = 1e-4
COLUMNS = ["kind", "name", "reference_ds", "psi", "ks_statistic", "ks_pvalue", "reference_n", "current_n",
           "reference_mean", "current_mean", "drifted"]  # fmt: skip


def _finite(values: np.ndarray | pd.Series) -> np.ndarray:
    array = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return array[np.isfinite(array)]


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """The inner edges of ``bins`` quantile bins of ``reference`` (duplicates merged)."""
    # Edges are values of the reference (no interpolation), so a discrete feature keeps its values.
    return np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1], method="inverted_cdf"))


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference`` (NaN when either is empty)."""
    ref, cur = _finite(reference), _finite(current)
    if not len(ref) or not len(cur):
        return float("nan")
    edges = quantile_edges(ref, bins)
    # Bin i holds (edge[i-1], edge[i]]: a value equal to an edge falls in the bin below it.
    r = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=len(edges) + 1) / len(ref)
    c = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=len(edges) + 1) / len(cur)
    r, c = np.maximum(r, EPS), np.maximum(c, EPS)
    return float(np.sum((c - r) * np.log(c / r)))


def compare(reference: np.ndarray, current: np.ndarray, bins: int) -> dict[str, float]:
    """PSI, KS statistic and p-value, sizes and means of two samples (NaN figures when one is empty)."""
    ref, cur = _finite(reference), _finite(current)
    out = {"psi": psi(ref, cur, bins), "reference_n": len(ref), "current_n": len(cur)}
    if len(ref) and len(cur):
        ks = stats.ks_2samp(ref, cur)
        out |= {"ks_statistic": float(ks.statistic), "ks_pvalue": float(ks.pvalue)}
    else:
        out |= {"ks_statistic": float("nan"), "ks_pvalue": float("nan")}
    out |= {"reference_mean": float(ref.mean()) if len(ref) else float("nan"),
            "current_mean": float(cur.mean()) if len(cur) else float("nan")}  # fmt: skip
    return out


def drift_table(
    pairs: list[tuple[str, str, str, np.ndarray, np.ndarray]], bins: int, bound: float, alpha: float = 1.0
) -> pd.DataFrame:
    """One row per ``(kind, name, reference_ds, reference, current)``, worst PSI first.

    ``drifted`` is True where the PSI is above ``bound`` and the KS p-value below ``alpha``.
    """
    rows = [{"kind": kind, "name": name, "reference_ds": ref_ds, **compare(ref, cur, bins)}
            for kind, name, ref_ds, ref, cur in pairs]  # fmt: skip
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "drifted"])
    frame["drifted"] = (frame["psi"] > bound) & (frame["ks_pvalue"] < alpha)
    frame = frame.sort_values("psi", ascending=False, na_position="last", kind="stable")
    return frame.astype({"reference_n": "int64", "current_n": "int64"}).reset_index(drop=True)[COLUMNS]
