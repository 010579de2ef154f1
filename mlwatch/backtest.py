"""Replay every configured check over history, through the same policy, without paging.

Only what was visible at each instant is used: rows with a timestamp <= t, and labels
only once ``labeled_at <= t``. Data is read once for the whole range and sliced per
evaluation with binary searches, so 30 days of 1-minute serving data and hourly batches
take minutes. The policy runs against a throwaway SQLite store (the real ``Store.apply``),
so pending/firing, dedup, inhibition and auto-resolve behave exactly as they do live.
Nothing is notified and nothing is remediated.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from checks._time import utc
from checks.result import CheckResult
from checks.serving import ServingSeries
from incidents.policy import Action
from incidents.store import Store
from mlwatch.config import ModelConfig, Settings
from mlwatch.db import open_store
from mlwatch.evaluate import GroupData, lookback, safe_evaluate
from mlwatch.plan import CHECK_GROUPS, group_checks
from mlwatch.sources import TIME_ROLE, read_source
from mlwatch.wiring import firing_rules, inhibition_rules

GROUP_ORDER = ("pipeline", "serving", "batch")  # root causes are judged first at equal times


@dataclass
class _Sorted:
    """A role's rows sorted by its time column, with the times as int64 ns for searching."""

    frame: pd.DataFrame
    times: np.ndarray

    @classmethod
    def build(cls, frame: pd.DataFrame, time_column: str) -> _Sorted:
        frame = frame.sort_values(time_column, kind="stable").reset_index(drop=True)
        times = frame[time_column].to_numpy(dtype="datetime64[ns]").astype("int64")
        return cls(frame, times)

    def between(self, start: datetime, end: datetime) -> pd.DataFrame:
        lo = int(np.searchsorted(self.times, pd.Timestamp(start).value, side="right"))
        hi = int(np.searchsorted(self.times, pd.Timestamp(end).value, side="right"))
        return self.frame.iloc[lo:hi]


@dataclass
class BacktestReport:
    start: datetime
    end: datetime
    evaluations: int = 0
    incidents: list[dict[str, Any]] = field(default_factory=list)
    by_alert: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def days(self) -> float:
        return max((self.end - self.start).total_seconds() / 86400, 1e-9)

    def to_dict(self) -> dict[str, Any]:
        per_day = Counter(i["opened_at"][:10] for i in self.incidents)
        pages = [i for i in self.incidents if i["severity"] == "page"]
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "days": round(self.days, 3), "evaluations": self.evaluations,
            "incidents_total": len(self.incidents), "pages_total": len(pages),
            "alerts_per_day": round(len(self.incidents) / self.days, 3),
            "pages_per_day": round(len(pages) / self.days, 3),
            "incidents_by_day": dict(sorted(per_day.items())),
            "incidents_by_alert": dict(sorted(self.by_alert.items())),
            "incidents": self.incidents,
            "seconds": round(self.seconds, 2),
        }


def load_history(model: ModelConfig, start: datetime, end: datetime) -> dict[str, _Sorted]:
    """Every role the model's checks need, read once for [start - lookback, end]."""
    spans: dict[str, timedelta] = {}
    for group in CHECK_GROUPS:
        for role, span in lookback(model, group).items():
            spans[role] = max(spans.get(role, timedelta(0)), span)
    history = {}
    for role, span in spans.items():
        source = getattr(model.sources, role)
        frame = read_source(source, role, since=start - span, until=end)
        history[role] = _Sorted.build(frame, TIME_ROLE[role])
    return history


def _group_data(model: ModelConfig, group: str, history: dict[str, _Sorted], now: datetime,
                serving: ServingSeries | None) -> GroupData:
    data = GroupData(serving_series=serving)
    for role, span in lookback(model, group).items():
        if role == "serving" and serving is not None:
            continue  # the whole-history series answers any window ending at ``now``
        data.frames[role] = history[role].between(now - span, now)
    return data


def _schedule(model: ModelConfig, start: datetime, end: datetime
              ) -> list[tuple[datetime, int, str, list[str]]]:
    """(time, group order, group, alerts due) for every evaluation in the range."""
    due: dict[tuple[datetime, str], list[str]] = {}
    for group in CHECK_GROUPS:
        for alert, check in group_checks(model, group).items():
            every = check.every  # type: ignore[attr-defined]
            moment = start + every
            while moment <= end:
                due.setdefault((moment, group), []).append(alert)
                moment += every
    return sorted((t, GROUP_ORDER.index(g), g, alerts) for (t, g), alerts in due.items())


def backtest(settings: Settings, start: datetime, end: datetime,
             store: Store | None = None) -> BacktestReport:
    """Replay all models' checks over [start, end]; returns the incidents they would open."""
    import time

    started = time.perf_counter()
    start, end = utc(start), utc(end)
    if end <= start:
        raise ValueError(f"--end ({end.isoformat()}) must be after --start ({start.isoformat()})")
    own_store = store is None
    tmp = tempfile.TemporaryDirectory(prefix="mlwatch-backtest-") if own_store else None
    if own_store:
        assert tmp is not None
        store = open_store(f"sqlite:///{Path(tmp.name) / 'backtest.db'}", durable=False)
    assert store is not None
    report = BacktestReport(start, end)
    inhibit = inhibition_rules(settings)
    try:
        for model in settings.models:
            history = load_history(model, start, end)
            serving = (ServingSeries.from_frame(history["serving"].frame)
                       if "serving" in history else None)
            rules = firing_rules(model)
            for moment, _, group, alerts in _schedule(model, start, end):
                data = _group_data(model, group, history, moment, serving)
                checks = group_checks(model, group)
                for alert in alerts:
                    result: CheckResult = safe_evaluate(model, alert, checks[alert], data,
                                                        moment)
                    applied = store.apply(result, rules[alert], inhibit=inhibit)
                    report.evaluations += 1
                    if applied.action is Action.OPEN:
                        report.by_alert[alert] = report.by_alert.get(alert, 0) + 1
        for incident in sorted(store.incidents(limit=1_000_000), key=lambda i: i.id):
            report.incidents.append({
                "id": incident.id, "model": incident.model, "alert": incident.alert,
                "severity": incident.severity,
                "opened_at": utc(incident.opened_at).isoformat(),
                "resolved_at": utc(incident.resolved_at).isoformat()
                if incident.resolved_at else None,
                "summary": incident.summary,
            })
    finally:
        if own_store:
            store.dispose()
            assert tmp is not None
            tmp.cleanup()
    report.seconds = time.perf_counter() - started
    return report
