"""Small time helpers shared by the checks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pandas as pd

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse ``30s``, ``5m``, ``1h``, ``3d`` (or seconds as a number) into a timedelta."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int | float):
        return timedelta(seconds=float(text))
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(
            f"invalid duration {text!r}: use a number and a unit, e.g. 30s, 5m, 1h, 2d"
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def format_duration(delta: timedelta | None) -> str:
    """``timedelta(hours=1, minutes=5)`` -> ``1h5m``; the inverse of parse_duration for display."""
    if delta is None:
        return "-"
    seconds = int(round(delta.total_seconds()))
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)


def utc(ts: datetime) -> datetime:
    """Make a datetime timezone-aware UTC (naive datetimes are taken as UTC)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def as_utc_series(values: pd.Series) -> pd.Series:
    """Timestamps as tz-aware UTC datetimes; unparseable values become NaT."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values if str(values.dt.tz) == "UTC" else values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values):
        return values.dt.tz_localize("UTC")
    return pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
