"""Time is a parameter: a wall clock in production, an accelerated clock for the demo world."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

CLOCK_FILE = "demo_clock.json"


class Clock(Protocol):
    def now(self) -> datetime: ...

    def real_interval(self, simulated: timedelta) -> timedelta: ...


class WallClock:
    """Production time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def real_interval(self, simulated: timedelta) -> timedelta:
        return simulated


@dataclass(frozen=True)
class DemoClock:
    """Simulated time running ``speed`` times faster than real time from an anchor."""

    anchor_real: float
    anchor_sim: datetime
    speed: float

    def now(self) -> datetime:
        return self.at(time.time())

    def at(self, real_seconds: float) -> datetime:
        return self.anchor_sim + timedelta(seconds=(real_seconds - self.anchor_real) * self.speed)

    def real_interval(self, simulated: timedelta) -> timedelta:
        return simulated / self.speed

    def save(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        payload = {"anchor_real": self.anchor_real, "anchor_sim": self.anchor_sim.isoformat(),
                   "speed": self.speed}
        tmp = state_dir / (CLOCK_FILE + ".tmp")
        tmp.write_text(json.dumps(payload))
        tmp.replace(state_dir / CLOCK_FILE)

    @classmethod
    def load(cls, state_dir: Path) -> DemoClock | None:
        path = state_dir / CLOCK_FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(float(data["anchor_real"]), datetime.fromisoformat(data["anchor_sim"]),
                   float(data["speed"]))

    @classmethod
    def resume(cls, state_dir: Path, speed: float, start: datetime | None = None) -> DemoClock:
        """Continue simulated time where a previous run left it (or start it)."""
        previous = cls.load(state_dir)
        if previous is not None:
            sim_now = previous.now()
            if start is not None and start > sim_now:
                sim_now = start
        else:
            sim_now = start or datetime.now(UTC).replace(second=0, microsecond=0)
        clock = cls(time.time(), sim_now, speed)
        clock.save(state_dir)
        return clock


def clock_for(settings: object) -> Clock:
    """The clock a monitor run should use: the demo's if the demo world is on."""
    demo = getattr(settings, "demo", None)
    if demo is not None and demo.enabled:
        state = Path(settings.state_dir)  # type: ignore[attr-defined]
        clock = DemoClock.load(state)
        if clock is not None:
            return clock
        return DemoClock(time.time(), datetime.now(UTC), demo.speed)
    return WallClock()
