"""Data quality of a batch: every problem named precisely, and the valid rows kept.

``data_quality`` never raises on bad input: it returns a ``data_quality`` result listing the
problems and the rows the other checks can still use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
import pandas as pd

from checks._time import as_utc_series, utc
from checks.result import CheckResult, Status

ColumnKind = Literal["numerical", "categorical"]


@dataclass(frozen=True)
class QualityOutcome:
    """The result, plus the valid part of the batch for the checks that follow."""

    result: CheckResult
    valid: pd.DataFrame
    problems: list[str] = field(default_factory=list)


def data_quality(
    batch: pd.DataFrame,
    now: datetime,
    *,
    model: str,
    schema: dict[str, ColumnKind],
    id_column: str | None = "id",
    timestamp_column: str | None = "timestamp",
    max_missing_share: float = 0.05,
    max_future_skew: timedelta = timedelta(minutes=5),
    allow_extra: tuple[str, ...] = (),
    severity: str = "page",
) -> QualityOutcome:
    """Check a batch against its expected schema and basic sanity rules."""
    now = utc(now)
    problems: list[str] = []
    stats: dict[str, object] = {"rows": int(len(batch))}
    if batch.empty:
        problems.append("empty batch: no rows in the window")
        return _outcome(model, now, problems, stats, batch, severity)

    valid = batch.copy()
    keep = np.ones(len(valid), dtype=bool)
    expected = set(schema) | {c for c in (id_column, timestamp_column) if c}
    missing = sorted(expected - set(batch.columns))
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    extra = sorted(set(batch.columns) - expected - set(allow_extra))
    if extra:
        stats["extra_columns"] = extra
        problems.append(f"unexpected column(s): {', '.join(extra)}")

    missing_shares: dict[str, float] = {}
    for column, kind in schema.items():
        if column not in valid.columns:
            continue
        values = valid[column]
        if kind == "numerical":
            numeric = pd.to_numeric(values, errors="coerce")
            not_numeric = numeric.isna() & values.notna()
            if not_numeric.any():
                sample = values[not_numeric].astype(str).unique()[:3].tolist()
                problems.append(
                    f"column {column}: {int(not_numeric.sum())} non-numeric value(s), e.g. {sample}"
                )
            infinite = np.isinf(numeric.to_numpy(dtype="float64", na_value=np.nan))
            if infinite.any():
                problems.append(f"column {column}: {int(infinite.sum())} infinite value(s)")
            numeric = numeric.mask(infinite)
            valid[column] = numeric
            values = numeric
        share = float(values.isna().mean())
        missing_shares[column] = share
        if share > max_missing_share:
            problems.append(
                f"column {column}: {share:.1%} missing (allowed {max_missing_share:.1%})"
            )
    stats["missing_share"] = missing_shares

    if id_column and id_column in valid.columns:
        duplicated = valid[id_column].duplicated(keep="first").to_numpy()
        if duplicated.any():
            problems.append(f"{int(duplicated.sum())} duplicate {id_column} value(s)")
            keep &= ~duplicated
    if timestamp_column and timestamp_column in valid.columns:
        stamps = as_utc_series(valid[timestamp_column])
        unparseable = stamps.isna().to_numpy()
        if unparseable.any():
            problems.append(f"{int(unparseable.sum())} unparseable {timestamp_column} value(s)")
        future = (stamps > pd.Timestamp(now + max_future_skew)).to_numpy()
        if future.any():
            problems.append(
                f"{int(future.sum())} {timestamp_column} value(s) in the future "
                f"(latest {stamps.max().isoformat()})"
            )
        keep &= ~unparseable & ~future
        valid[timestamp_column] = stamps
    stats["valid_rows"] = int(keep.sum())
    return _outcome(model, now, problems, stats, valid[keep], severity)


def _outcome(model: str, now: datetime, problems: list[str], stats: dict[str, object],
             valid: pd.DataFrame, severity: str) -> QualityOutcome:
    if problems:
        summary = f"{model}: {len(problems)} data-quality problem(s): " + "; ".join(problems[:3])
        status = Status.BREACH
    else:
        summary = f"{model}: batch of {stats['rows']} rows passed schema and sanity checks"
        status = Status.OK
    result = CheckResult("data_quality", model, status, float(len(problems)), 0.0, None, now,
                         summary, {"problems": problems, **stats}, severity=severity)
    return QualityOutcome(result, valid, problems)
