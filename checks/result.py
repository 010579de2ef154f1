"""The one result type every check returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """What a check concluded about its window."""

    OK = "ok"
    BREACH = "breach"
    INSUFFICIENT_DATA = "insufficient_data"
    ERROR = "error"


@dataclass(frozen=True)
class CheckResult:
    """A measurement and the check's own verdict on it; the alert policy decides what to page."""

    alert: str
    model: str
    status: Status
    value: float | None
    threshold: float | None
    window: timedelta | None
    evaluated_at: datetime
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    severity: str = "page"

    @property
    def is_breach(self) -> bool:
        return self.status is Status.BREACH

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view for artifacts and the store."""
        data = asdict(self)
        data["status"] = self.status.value
        data["window"] = self.window.total_seconds() if self.window else None
        data["evaluated_at"] = self.evaluated_at.isoformat()
        return data


def error_result(
    alert: str, model: str, now: datetime, message: str, **details: Any
) -> CheckResult:
    """A result for a check that could not evaluate (bad input, missing columns)."""
    return CheckResult(
        alert=alert,
        model=model,
        status=Status.ERROR,
        value=None,
        threshold=None,
        window=None,
        evaluated_at=now,
        summary=f"{alert} could not be evaluated: {message}",
        details={"error": message, **details},
    )
