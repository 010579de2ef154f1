"""The demo world: a small production system in accelerated time.

Every simulated minute it serves requests with the registry's ``champion`` model, logs
predictions and serving events, queues ground-truth labels that arrive 1-8 hours later,
runs a feature pipeline every 15 minutes, and records deployments. A fault schedule
injects, in turn within each cycle: a bad model deployment (random predictions, errors),
feature drift, a pipeline stall, and an infrastructure error/latency spike.
"""

from __future__ import annotations

import argparse
import logging
import signal
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, delete, insert, select

from checks._time import utc
from incidents.store import make_engine
from mlwatch.clock import DemoClock
from mlwatch.config import Settings, load_settings
from mlwatch.db import open_store
from mlwatch.demo import model as demo_model
from mlwatch.demo import schema
from mlwatch.registry import CHAMPION, StoreRegistry, VersionInfo

log = logging.getLogger("mlwatch.demo")
PIPELINE = "feature_refresh"
DRIFTED_FEATURES = ("mean_radius", "mean_perimeter", "mean_area")


@dataclass(frozen=True)
class FaultWindow:
    name: str
    start: timedelta
    end: timedelta


# Offsets within each fault cycle (default 12 simulated hours).
FAULTS = (
    FaultWindow("bad_deployment", timedelta(minutes=20), timedelta(minutes=21)),
    FaultWindow("feature_drift", timedelta(hours=3), timedelta(hours=5)),
    FaultWindow("pipeline_stall", timedelta(hours=6, minutes=30), timedelta(hours=7, minutes=45)),
    FaultWindow("serving_spike", timedelta(hours=9), timedelta(hours=9, minutes=40)),
)


def active_faults(epoch: datetime, now: datetime, cycle: timedelta) -> set[str]:
    offset = (now - epoch) % cycle
    return {f.name for f in FAULTS if f.start <= offset < f.end}


class DemoWorld:
    """Simulates the production system minute by minute into ``demo.db``."""

    def __init__(self, settings: Settings, demo_url: str) -> None:
        self.settings = settings
        self.model_name = settings.models[0].name
        self.state = settings.state_path
        self.state.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = make_engine(demo_url)
        schema.metadata.create_all(self.engine)
        self.store = open_store(settings.store)
        self.registry = StoreRegistry(self.store)
        self.rng = np.random.default_rng(settings.demo.seed)
        self.dataset = demo_model.load_dataset()
        self._loaded: dict[str, demo_model.Scorer] = {}

    # ------------------------------------------------------------------ setup
    def ensure_initialised(self, now: datetime) -> datetime:
        """First start: reference data, model v1, two hours of history. Returns the epoch."""
        with self.engine.begin() as conn:
            row = conn.execute(select(schema.demo_meta.c.value)
                               .where(schema.demo_meta.c.key == "epoch")).first()
            if row:
                return utc(datetime.fromisoformat(row[0]))
        epoch = utc(now).replace(second=0, microsecond=0)
        train = self.dataset.sample(frac=0.7, random_state=self.settings.demo.seed)
        model, metrics = demo_model.train(train, seed=self.settings.demo.seed)
        path = self.state / "models" / f"{self.model_name}-v1.pkl"
        demo_model.save(model, path)
        reference = self._sample_rows(5000, drift=False)
        probs = model.predict_proba(reference[demo_model.FEATURES])[:, 1]
        reference["score"] = probs
        reference["prediction"] = (probs >= 0.5).astype(int)
        (self.state / "demo").mkdir(parents=True, exist_ok=True)
        reference.to_parquet(self.state / "demo" / "reference.parquet", index=False)
        self.registry.register(VersionInfo(
            self.model_name, "v1", epoch - timedelta(days=1), epoch - timedelta(days=1),
            metrics, str(path), training_start=epoch - timedelta(days=30),
            training_end=epoch - timedelta(days=1)))
        self.registry.promote(self.model_name, "v1", epoch)
        with self.engine.begin() as conn:
            conn.execute(insert(schema.deployments), [{
                "model_version": "v1", "deployed_at": _naive(epoch - timedelta(days=1)),
                "status": "succeeded", "error": None}])
            conn.execute(insert(schema.demo_meta), [
                {"key": "epoch", "value": epoch.isoformat()},
                {"key": "simulated_until", "value": (epoch - timedelta(hours=2)).isoformat()},
                {"key": "next_version", "value": "2"}])
        return epoch

    def _sample_rows(self, n: int, *, drift: bool) -> pd.DataFrame:
        idx = self.rng.integers(0, len(self.dataset), n)
        rows = self.dataset.iloc[idx].reset_index(drop=True)
        jitter = self.rng.normal(1.0, 0.03, size=(n, len(demo_model.FEATURES)))
        rows[demo_model.FEATURES] = rows[demo_model.FEATURES].to_numpy() * jitter
        if drift:
            for column in DRIFTED_FEATURES:
                rows[column] = rows[column] * 1.35
        rows["channel"] = self.rng.choice(demo_model.CHANNELS, n, p=demo_model.CHANNEL_P)
        return rows

    # ------------------------------------------------------------------ simulation
    def _meta(self, key: str) -> str | None:
        with self.engine.begin() as conn:
            row = conn.execute(select(schema.demo_meta.c.value)
                               .where(schema.demo_meta.c.key == key)).first()
            return row[0] if row else None

    @staticmethod
    def _set_meta(conn: Connection, key: str, value: str) -> None:
        conn.execute(delete(schema.demo_meta).where(schema.demo_meta.c.key == key))
        conn.execute(insert(schema.demo_meta), [{"key": key, "value": value}])

    def _model(self, version: str) -> demo_model.Scorer:
        if version not in self._loaded:
            info = next(v for v in self.registry.versions(self.model_name) if v.version == version)
            self._loaded[version] = demo_model.load(Path(info.artifact or ""))
        return self._loaded[version]

    def advance(self, until: datetime, epoch: datetime) -> int:
        """Simulate every whole minute up to ``until``; returns the minutes simulated."""
        last = utc(datetime.fromisoformat(self._meta("simulated_until") or epoch.isoformat()))
        minutes = 0
        tick = self.settings.demo.tick
        while last + tick <= until:
            last = last + tick
            self._simulate_minute(last, epoch)
            minutes += 1
        return minutes

    def _simulate_minute(self, minute: datetime, epoch: datetime) -> None:
        faults = active_faults(epoch, minute, self.settings.demo.fault_cycle)
        if "bad_deployment" in faults and self._meta("bad_deployed_cycle") != self._cycle(
                epoch, minute):
            self._deploy_bad_version(minute, epoch)
        champion = self.registry.alias(self.model_name, CHAMPION) or "v1"
        bad = any(v.version == champion and v.metrics.get("build") == "broken"
                  for v in self.registry.versions(self.model_name))
        hour = minute.hour + minute.minute / 60
        seasonal = 1 + 0.3 * np.sin(2 * np.pi * (hour - 6) / 24)
        n = int(self.rng.poisson(self.settings.demo.requests_per_minute * seasonal))
        rows = self._sample_rows(n, drift="feature_drift" in faults)
        offsets = np.sort(self.rng.uniform(0, 60, n))
        stamps = [minute - timedelta(seconds=60 - s) for s in offsets]
        error_p = 0.002 + (0.4 if bad else 0.0) + (0.12 if "serving_spike" in faults else 0.0)
        errors = self.rng.random(n) < error_p
        latency = self.rng.lognormal(np.log(80), 0.35, n)
        if "serving_spike" in faults:
            latency *= 6
        if bad:
            latency *= 1.5
        model = self._model(champion)
        scores = model.predict_proba(rows[demo_model.FEATURES])[:, 1] if n else np.array([])
        stamp = minute.strftime("%Y%m%d%H%M")
        prediction_rows, label_rows, event_rows = [], [], []
        for i in range(n):
            event_rows.append({"ts": _naive(stamps[i]), "status": "error" if errors[i] else "ok",
                               "latency_ms": float(latency[i]), "model_version": champion})
            if errors[i]:
                continue
            pid = f"{stamp}-{i}"
            record = {"prediction_id": pid, "ts": _naive(stamps[i]), "model_version": champion,
                      "channel": rows.at[i, "channel"], "score": float(scores[i]),
                      "prediction": int(scores[i] >= 0.5)}
            record.update({f: float(rows.at[i, f]) for f in demo_model.FEATURES})
            prediction_rows.append(record)
            delay = timedelta(hours=float(np.clip(self.rng.lognormal(np.log(2.5), 0.5), 1, 8)))
            label_rows.append({"prediction_id": pid, "label": int(rows.at[i, "label"]),
                               "labeled_at": _naive(stamps[i] + delay)})
        with self.engine.begin() as conn:
            if event_rows:
                conn.execute(insert(schema.serving_events), event_rows)
            if prediction_rows:
                conn.execute(insert(schema.predictions), prediction_rows)
                conn.execute(insert(schema.labels_pending), label_rows)
            arrived = schema.labels_pending.c.labeled_at <= _naive(minute)
            conn.execute(insert(schema.labels).from_select(
                ["prediction_id", "label", "labeled_at"],
                select(schema.labels_pending.c.prediction_id, schema.labels_pending.c.label,
                       schema.labels_pending.c.labeled_at).where(arrived)))
            conn.execute(delete(schema.labels_pending).where(arrived))
            if minute.minute % 15 == 0 and "pipeline_stall" not in faults:
                conn.execute(insert(schema.pipeline_runs), [{
                    "pipeline": PIPELINE, "started_at": _naive(minute - timedelta(minutes=4)),
                    "finished_at": _naive(minute), "status": "success"}])
            self._set_meta(conn, "simulated_until", minute.isoformat())

    def _cycle(self, epoch: datetime, moment: datetime) -> str:
        return str(int((moment - epoch) / self.settings.demo.fault_cycle))

    def _deploy_bad_version(self, minute: datetime, epoch: datetime) -> None:
        number = int(self._meta("next_version") or "2")
        version = f"v{number}"
        path = self.state / "models" / f"{self.model_name}-{version}.pkl"
        demo_model.save(demo_model.RandomScorer(seed=number), path)
        self.registry.register(VersionInfo(
            self.model_name, version, minute, minute,
            {"build": "broken", "note": "demo fault: serves random predictions"}, str(path)))
        self.registry.promote(self.model_name, version, minute)
        with self.engine.begin() as conn:
            conn.execute(insert(schema.deployments), [{
                "model_version": version, "deployed_at": _naive(minute), "status": "succeeded",
                "error": None}])
            self._set_meta(conn, "next_version", str(number + 1))
            self._set_meta(conn, "bad_deployed_cycle", self._cycle(epoch, minute))
        log.warning("demo fault: deployed %s, a broken build serving random predictions",
                    version)


def _naive(moment: datetime) -> datetime:
    return utc(moment).replace(tzinfo=None)


def demo_url(settings: Settings) -> str:
    return f"sqlite:///{settings.state_path / 'demo.db'}"


def run(config_path: str, *, once: bool = False) -> None:
    """Run the world until stopped (SIGTERM/SIGINT)."""
    settings = load_settings(config_path)
    clock = DemoClock.resume(settings.state_path, settings.demo.speed)
    world = DemoWorld(settings, demo_url(settings))
    epoch = world.ensure_initialised(clock.now())
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("demo world running at %sx; simulated time %s", settings.demo.speed,
             clock.now().isoformat(timespec="minutes"))
    while not stopping:
        world.advance(clock.now(), epoch)
        if once:
            break
        time.sleep(0.5)
    world.store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="mlwatch.yaml")
    parser.add_argument("--once", action="store_true", help="catch up, then exit")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s demo %(levelname)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    run(args.config, once=args.once)


if __name__ == "__main__":
    main()
