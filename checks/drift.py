"""Batch data drift, reproducing Evidently 0.7's per-column tests, scores and verdicts, fast.

Evidently picks a test per column from the reference size and the column's cardinality
(see ``default_method``); mlwatch does the same, but vectorised: the reference side of
every test (sorted values, value counts, std) is computed once into a ``ReferenceProfile``
and reused for every batch, and the normed Wasserstein distance is computed with one
merge of two sorted arrays and a cumulative sum instead of re-sorting the reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

Method = Literal["wasserstein", "jensenshannon", "ks", "chisquare", "z", "psi"]
METHODS: tuple[str, ...] = ("wasserstein", "jensenshannon", "ks", "chisquare", "z", "psi")
# p-value tests drift when the p-value is below the threshold; distances when at or above it.
_P_VALUE_METHODS = {"ks", "chisquare", "z"}
DEFAULT_THRESHOLDS: dict[str, float] = {
    "wasserstein": 0.1, "jensenshannon": 0.1, "psi": 0.1, "ks": 0.05, "chisquare": 0.05, "z": 0.05,
}
_NUMERIC_ONLY = {"wasserstein", "ks"}
SMALL_REFERENCE = 1000  # Evidently switches from statistical tests to distances above this


class DriftInputError(ValueError):
    """A column cannot be compared (missing, empty after dropping NaN, wrong type)."""


@dataclass(frozen=True)
class ColumnDrift:
    """One column's drift verdict, as Evidently's ValueDrift reports it."""

    column: str
    kind: Literal["numerical", "categorical"]
    method: str
    score: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftReport:
    """Per-column verdicts and the dataset-level verdict (share drifted >= drift_share)."""

    columns: dict[str, ColumnDrift]
    drift_share: float
    n_reference: int
    n_current: int
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def n_drifted(self) -> int:
        return sum(c.drifted for c in self.columns.values())

    @property
    def share_drifted(self) -> float:
        return self.n_drifted / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.columns) and self.share_drifted >= self.drift_share

    def top(self, n: int = 5) -> list[ColumnDrift]:
        """The drifted columns first, then the rest, by how far past the threshold they are."""
        def severity(c: ColumnDrift) -> float:
            if c.method in _P_VALUE_METHODS:
                return c.threshold - c.score
            return c.score - c.threshold
        return sorted(self.columns.values(), key=lambda c: (not c.drifted, -severity(c)))[:n]

    def table(self) -> list[dict[str, object]]:
        return [
            {"column": c.column, "method": c.method, "score": round(c.score, 6),
             "threshold": c.threshold, "drifted": c.drifted}
            for c in self.top(len(self.columns))
        ]


def _clean(values: pd.Series) -> pd.Series:
    """Evidently drops NaN and +-inf before every test."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return pd.Series(_finite(values), copy=False)
    return values.replace([np.inf, -np.inf], np.nan).dropna()


def _finite(values: pd.Series) -> np.ndarray:
    array = values.to_numpy(dtype="float64", na_value=np.nan)
    return array[np.isfinite(array)]


_SMALL_CARDINALITY = 20  # value counts are kept for numeric columns up to this many values


@dataclass
class _NumericProfile:
    """Sorted finite values; the distinct values and their counts only when there are few."""

    sorted_values: np.ndarray
    n_unique: int
    std: float
    counts: pd.Series | None

    @classmethod
    def build(cls, values: np.ndarray) -> _NumericProfile:
        values.sort()
        unique = _unique_sorted(values)
        counts = None
        if unique.size <= _SMALL_CARDINALITY:
            edges = np.searchsorted(values, unique, side="left")
            counts = pd.Series(np.diff(np.append(edges, values.size)), index=unique)
        return cls(values, int(unique.size), float(np.std(values)), counts)


@dataclass
class ColumnProfile:
    """What every test needs from one reference column, computed once."""

    name: str
    kind: Literal["numerical", "categorical"]
    n: int
    numeric: _NumericProfile | None
    _counts: pd.Series | None

    @property
    def counts(self) -> pd.Series:
        """Value counts (for count-based tests); derived on demand for rich numerics."""
        if self._counts is None:
            assert self.numeric is not None
            unique, counts = np.unique(self.numeric.sorted_values, return_counts=True)
            self._counts = pd.Series(counts, index=unique)
        return self._counts


class ReferenceProfile:
    """A reference dataset prepared for repeated drift comparisons."""

    def __init__(self, columns: dict[str, ColumnProfile], n_rows: int) -> None:
        self.columns = columns
        self.n_rows = n_rows

    @classmethod
    def build(
        cls,
        reference: pd.DataFrame,
        columns: Sequence[str] | None = None,
        categorical: Iterable[str] | None = None,
    ) -> ReferenceProfile:
        names = list(columns) if columns is not None else list(reference.columns)
        missing = [c for c in names if c not in reference.columns]
        if missing:
            raise DriftInputError(f"reference data has no column(s) {missing}")
        categorical_set = set(categorical or ())
        profiles: dict[str, ColumnProfile] = {}
        for name in names:
            series = reference[name]
            is_numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(
                series
            )
            kind: Literal["numerical", "categorical"] = (
                "categorical" if name in categorical_set or not is_numeric else "numerical"
            )
            if kind == "numerical":
                numeric = _NumericProfile.build(_finite(series))
                n, counts = numeric.sorted_values.size, numeric.counts
            else:
                numeric = None
                clean = _clean(series)
                n, counts = len(clean), clean.value_counts(sort=False)
            if n == 0:
                raise DriftInputError(
                    f"reference column {name!r} is empty after dropping NaN/inf; "
                    "drop it from the monitored features or fix the reference data"
                )
            profiles[name] = ColumnProfile(name, kind, n, numeric, counts)
        return cls(profiles, len(reference))

    def subset(self, columns: Sequence[str]) -> ReferenceProfile:
        """The profile of some columns only (to spread columns over workers)."""
        return ReferenceProfile({c: self.columns[c] for c in columns}, self.n_rows)

    def compare(
        self,
        current: pd.DataFrame,
        *,
        method: str | Mapping[str, str] | None = None,
        threshold: float | Mapping[str, float] | None = None,
        drift_share: float = 0.5,
        workers: int = 2,
    ) -> DriftReport:
        """Compare a current batch against this reference, column by column."""
        names = list(self.columns)
        missing = [c for c in names if c not in current.columns]
        if missing:
            raise DriftInputError(
                f"current batch has no column(s) {missing}; they are in the reference"
            )

        def one(name: str) -> tuple[str, ColumnDrift | str]:
            try:
                return name, self._compare_column(
                    self.columns[name], current[name], _pick(method, name), _pick(threshold, name)
                )
            except DriftInputError as exc:
                return name, str(exc)

        # Sorting and searching release the GIL, so two threads use both cores.
        if workers > 1 and len(names) > 1 and len(current) >= 50_000:
            with ThreadPoolExecutor(workers) as pool:
                outcomes = list(pool.map(one, names))
        else:
            outcomes = [one(name) for name in names]
        columns = {n: r for n, r in outcomes if isinstance(r, ColumnDrift)}
        skipped = {n: r for n, r in outcomes if isinstance(r, str)}
        return DriftReport(columns, drift_share, self.n_rows, len(current), skipped)

    def _compare_column(
        self, ref: ColumnProfile, current: pd.Series, method: str | None, threshold: float | None
    ) -> ColumnDrift:
        if ref.kind == "numerical":
            if not pd.api.types.is_numeric_dtype(current):
                raise DriftInputError(f"current column {ref.name!r} should be numeric")
            # Sort the current values once: every numeric test and the cardinality use them.
            cur_sorted: np.ndarray | None = _finite(current)
            cur_sorted.sort()
            cur = pd.Series(cur_sorted, copy=False)
        else:
            cur_sorted = None
            cur = _clean(current)
        if cur.empty:
            raise DriftInputError(f"current column {ref.name!r} is empty after dropping NaN/inf")
        if method is None:
            method = default_method(ref, cur, cur_sorted)
        if method not in METHODS:
            raise DriftInputError(f"unknown drift method {method!r}; use one of {METHODS}")
        if method in _NUMERIC_ONLY and ref.kind != "numerical":
            raise DriftInputError(f"method {method!r} needs a numeric column; {ref.name!r} is not")
        limit = DEFAULT_THRESHOLDS[method] if threshold is None else float(threshold)
        score = _SCORERS[method](ref, cur, cur_sorted)
        drifted = score < limit if method in ("chisquare", "z") else (
            score <= limit if method == "ks" else score >= limit
        )
        return ColumnDrift(ref.name, ref.kind, method, float(score), limit, bool(drifted))


def merge_reports(parts: Sequence[DriftReport], drift_share: float) -> DriftReport:
    """One report from reports over disjoint column sets of the same batch."""
    columns: dict[str, ColumnDrift] = {}
    skipped: dict[str, str] = {}
    for part in parts:
        columns.update(part.columns)
        skipped.update(part.skipped)
    n_reference = max((p.n_reference for p in parts), default=0)
    n_current = max((p.n_current for p in parts), default=0)
    return DriftReport(columns, drift_share, n_reference, n_current, skipped)


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    categorical: Iterable[str] | None = None,
    method: str | Mapping[str, str] | None = None,
    threshold: float | Mapping[str, float] | None = None,
    drift_share: float = 0.5,
) -> DriftReport:
    """Evidently-compatible drift of ``current`` against ``reference`` (one-off convenience)."""
    profile = ReferenceProfile.build(reference, columns, categorical)
    return profile.compare(current, method=method, threshold=threshold, drift_share=drift_share)


def default_method(ref: ColumnProfile, cur: pd.Series, cur_sorted: np.ndarray | None) -> str:
    """Evidently 0.7's choice of test (``_get_default_stattest``)."""
    n_values = _combined_nunique(ref, cur, cur_sorted)
    if ref.n <= SMALL_REFERENCE:
        if ref.kind == "numerical" and n_values > 5:
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if ref.kind == "numerical" and n_values > 5:
        return "wasserstein"
    return "jensenshannon"


def _combined_nunique(ref: ColumnProfile, cur: pd.Series, cur_sorted: np.ndarray | None) -> int:
    """Distinct values of reference and current together, exact up to 6 (all the rules need)."""
    if ref.numeric is not None and cur_sorted is not None:
        if ref.numeric.n_unique > 5:
            return ref.numeric.n_unique
        cur_unique = _unique_sorted(cur_sorted)
        if cur_unique.size > 5:
            return int(cur_unique.size)
        return int(np.union1d(ref.counts.index.to_numpy(), cur_unique).size)
    return len(set(ref.counts.index) | set(cur.unique()))


def _unique_sorted(sorted_values: np.ndarray) -> np.ndarray:
    if sorted_values.size == 0:
        return sorted_values
    keep = np.empty(sorted_values.size, dtype=bool)
    keep[0] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=keep[1:])
    return sorted_values[keep]


def wasserstein_sorted(u: np.ndarray, v: np.ndarray) -> float:
    """First Wasserstein distance of two *sorted* samples: the integral of |F_u - F_v|.

    Equal to ``scipy.stats.wasserstein_distance`` but with one merge instead of a sort of
    the concatenation and two searches.
    """
    n, m = u.size, v.size
    merged = np.empty(n + m, dtype="float64")
    step = np.empty(n + m, dtype="float64")
    # Position of each element in the merged order (stable: u before v on ties).
    pos = np.searchsorted(v, u, side="left")
    pos += np.arange(n)
    merged[pos] = u
    step[pos] = 1.0 / n
    pos = np.searchsorted(u, v, side="right")
    pos += np.arange(m)
    merged[pos] = v
    step[pos] = -1.0 / m
    del pos
    # In place: step becomes F_u - F_v at each point, merged[:-1] the gaps between points.
    np.cumsum(step, out=step)
    np.abs(step, out=step)
    np.subtract(merged[1:], merged[:-1], out=merged[:-1])
    return float(np.dot(step[:-1], merged[:-1]))


def _wasserstein(ref: ColumnProfile, cur: pd.Series, cur_sorted: np.ndarray | None) -> float:
    assert ref.numeric is not None and cur_sorted is not None
    norm = max(ref.numeric.std, 0.001)
    return wasserstein_sorted(ref.numeric.sorted_values, cur_sorted) / norm


def _ks(ref: ColumnProfile, cur: pd.Series, cur_sorted: np.ndarray | None) -> float:
    assert ref.numeric is not None and cur_sorted is not None
    return float(stats.ks_2samp(ref.numeric.sorted_values, cur_sorted)[1])


def _aligned_counts(ref: ColumnProfile, cur: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    cur_counts = cur.value_counts(sort=False)
    keys = ref.counts.index.union(cur_counts.index, sort=False)
    return (
        ref.counts.reindex(keys, fill_value=0).to_numpy(dtype="float64"),
        cur_counts.reindex(keys, fill_value=0).to_numpy(dtype="float64"),
    )


def _binned(ref: ColumnProfile, cur: pd.Series, cur_sorted: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Evidently's ``get_binned_data``: Sturges histogram for rich numerics, else value shares."""
    if ref.numeric is not None and cur_sorted is not None and ref.numeric.n_unique > 20:
        # np.histogram_bin_edges(concat, "sturges") needs only the size, min and max.
        values = ref.numeric.sorted_values
        low, high = min(values[0], cur_sorted[0]), max(values[-1], cur_sorted[-1])
        bins = _sturges_edges(low, high, values.size + cur_sorted.size)
        ref_pct = np.histogram(ref.numeric.sorted_values, bins)[0] / ref.n
        cur_pct = np.histogram(cur_sorted, bins)[0] / len(cur_sorted)
        return ref_pct, cur_pct
    ref_counts, cur_counts = _aligned_counts(ref, cur)
    return ref_counts / ref.n, cur_counts / len(cur)


def _sturges_edges(low: np.float64, high: np.float64, n: int) -> np.ndarray:
    """``np.histogram_bin_edges(x, "sturges")`` from x's min, max and size alone,
    step for step as numpy computes it, so the bins are identical without concatenating."""
    first, last = (low - 0.5, high + 0.5) if low == high else (low, high)
    width = (high - low) / (np.log2(n) + 1.0)
    n_bins = int(np.ceil((last - first) / width)) if width else 1
    return np.linspace(first, last, n_bins + 1, endpoint=True, dtype=np.float64)


def _fill_zeroes(percents: np.ndarray) -> np.ndarray:
    percents = percents.copy()
    smallest = percents[percents != 0].min()
    percents[percents == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return percents


def _jensenshannon(ref: ColumnProfile, cur: pd.Series, cur_sorted: np.ndarray | None) -> float:
    ref_pct, cur_pct = _binned(ref, cur, cur_sorted)
    return float(distance.jensenshannon(ref_pct, cur_pct))


def _psi(ref: ColumnProfile, cur: pd.Series, cur_sorted: np.ndarray | None) -> float:
    ref_pct, cur_pct = _binned(ref, cur, cur_sorted)
    ref_pct, cur_pct = _fill_zeroes(ref_pct), _fill_zeroes(cur_pct)
    return float(np.sum((ref_pct - cur_pct) * np.log(ref_pct / cur_pct)))


def _chisquare(ref: ColumnProfile, cur: pd.Series, cur_sorted: np.ndarray | None) -> float:
    ref_counts, cur_counts = _aligned_counts(ref, cur)
    expected = ref_counts * (len(cur) / ref.n)
    return float(stats.chisquare(cur_counts, expected)[1])


def _z(ref: ColumnProfile, cur: pd.Series, cur_sorted: np.ndarray | None) -> float:
    """Two-proportion z-test on "is the first (sorted) category", as Evidently does."""
    keys = sorted(set(ref.counts.index) | set(cur.unique()))
    ref_unique, cur_unique = ref.counts.index, cur.unique()
    if len(ref_unique) == 1 and len(cur_unique) == 1 and ref_unique[0] == cur_unique[0]:
        return 1.0
    first = keys[0]
    n1, n2 = ref.n, len(cur)
    p1 = float(n1 - ref.counts.get(first, 0)) / n1
    p2 = float(int((cur != first).sum())) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z_stat = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - stats.norm.cdf(np.abs(z_stat))))


_SCORERS = {
    "wasserstein": _wasserstein,
    "jensenshannon": _jensenshannon,
    "ks": _ks,
    "chisquare": _chisquare,
    "z": _z,
    "psi": _psi,
}


def _pick(value: object, column: str) -> object:
    if isinstance(value, Mapping):
        return value.get(column)
    return value
