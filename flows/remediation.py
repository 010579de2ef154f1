"""Remediation subflows: rollback and retrain, guarded, approved where asked, and recorded.

Guard rails shared by both: one remediation per model at a time (a Prefect global
concurrency limit with ``strict=True``), a cooldown against automatic loops, an approval
pause (``pause_flow_run(wait_for_input=Approval)``) in ``approve`` mode, ``dry_run``, and
every step on the incident's timeline and Slack thread. Verification is not here: the
incident stays open until its check recovers (monitor flow), and escalates if it does not.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger
from prefect.concurrency.sync import concurrency
from prefect.input import RunInput
from prefect.runtime import flow_run

from checks._time import utc
from incidents.lifecycle import NoticeSettings, note
from incidents.store import Store
from mlwatch.config import ModelConfig, RemediationRule, Settings, load_settings
from mlwatch.db import open_store
from mlwatch.errors import MlwatchError
from mlwatch.registry import CHAMPION, RegistryError, StoreRegistry, VersionInfo, load_artifact
from mlwatch.sources import read_source
from mlwatch.wiring import notice_context, remediation_labels


class Approval(RunInput):
    """What a person answers when a remediation asks for approval."""

    approve: bool = True
    approver: str = "prefect-ui"
    note: str = ""


@dataclass
class RemediationContext:
    """Everything one remediation run needs, and the way it reports progress."""

    store: Store
    settings: Settings
    model: ModelConfig
    incident_id: int | None
    alert: str
    now: datetime
    mode: str
    dry_run: bool
    actor: str
    flow_run_id: str | None = None

    def tell(self, message: str, event: str = "remediation") -> None:
        """Timeline event + Slack update; logged when there is no incident."""
        if self.incident_id is None:
            return
        notices = NoticeSettings(self.settings.slack.channel,
                                 notice_context(self.settings, self.model))
        note(self.store, self.incident_id, event, message, self.now, notices,
             remediation_labels(self.model).get(self.alert), actor=self.actor)

    def record(self, action: str, status: str, detail: str) -> int:
        return self.store.start_remediation(
            incident_id=self.incident_id, model=self.model.name, action=action,
            mode=self.mode, status=status, now=self.now, detail=detail,
            flow_run_id=self.flow_run_id)

    @property
    def rule(self) -> RemediationRule | None:
        return self.model.remediation.get(self.alert)


def in_cooldown(store: Store, model: str, action: str, rule: RemediationRule, now: datetime
                ) -> bool:
    """True when a remediation of this kind succeeded within the cooldown."""
    for row in reversed(store.remediations(model=model)):
        if row.action == action and row.status == "succeeded" and row.finished_at:
            return utc(now) - utc(row.finished_at) < rule.cooldown
    return False


def _guarded(ctx: RemediationContext, action: str) -> bool:
    """Automatic remediations stop at the cooldown: a person decides the second time."""
    rule = ctx.rule
    if ctx.actor == "mlwatch" and rule is not None and in_cooldown(
            ctx.store, ctx.model.name, action, rule, ctx.now):
        ctx.record(action, "skipped", "cooldown")
        ctx.tell(f"automatic {action} skipped: another {action} succeeded within the "
                 f"cooldown ({rule.cooldown}); a person must decide now")
        return False
    return True


# --------------------------------------------------------------------------- rollback
def rollback_model(ctx: RemediationContext) -> str:
    """Move ``champion`` to the last known-good version and mark the current one bad."""
    if not _guarded(ctx, "rollback"):
        return "skipped"
    registry = StoreRegistry(ctx.store)
    champion = registry.alias(ctx.model.name, CHAMPION)
    try:
        target = registry.rollback_target(ctx.model.name)
    except RegistryError as exc:
        ctx.record("rollback", "refused", str(exc))
        ctx.tell(f"rollback refused: {exc}")
        return "refused"
    if ctx.dry_run:
        ctx.record("rollback", "dry_run", f"would move champion {champion} -> {target.version}")
        ctx.tell(f"dry run: would roll back {champion} -> {target.version}")
        return "dry_run"
    remediation_id = ctx.record("rollback", "running", f"{champion} -> {target.version}")
    ctx.tell(f"rollback started: champion {champion} -> {target.version} (by {ctx.actor})")
    if champion:
        registry.mark_bad(ctx.model.name, champion)
    registry.promote(ctx.model.name, target.version, ctx.now)
    ctx.store.finish_remediation(remediation_id, "succeeded", ctx.now,
                                 f"champion is now {target.version}", from_version=champion,
                                 to_version=target.version)
    ctx.tell(f"rollback finished: serving {target.version}; waiting for the check to recover")
    return "succeeded"


# --------------------------------------------------------------------------- retrain
@dataclass(frozen=True)
class RetrainOutcome:
    status: str
    comparison: list[dict[str, Any]]
    version: str | None = None


def _trainer(path: str) -> Callable[[pd.DataFrame], tuple[Any, dict[str, float]]]:
    module, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise MlwatchError(f"training.trainer {path!r} cannot be imported: {exc}") from None


def _score(model: Any, frame: pd.DataFrame, metric: str, features: list[str]) -> float:
    from sklearn import metrics as skm

    columns = list(getattr(model, "feature_names_in_", features))
    proba = model.predict_proba(frame[columns])[:, 1]
    truth = frame["label"].to_numpy()
    if metric == "roc_auc":
        return float(skm.roc_auc_score(truth, proba))
    predicted = (proba >= 0.5).astype(int)
    if metric == "f1":
        return float(skm.f1_score(truth, predicted, zero_division=0))
    return float(np.mean(predicted == truth))


def training_data(model: ModelConfig, now: datetime) -> pd.DataFrame:
    """Recent predictions joined with the labels visible at ``now``, oldest first."""
    assert model.training is not None
    if model.sources.predictions is None or model.sources.labels is None:
        raise MlwatchError(f"retraining {model.name} needs the predictions and labels sources")
    since = now - model.training.window
    predictions = read_source(model.sources.predictions, "predictions", since=since, until=now)
    labels = read_source(model.sources.labels, "labels", since=since, until=now)
    joined = predictions.merge(labels[["id", "label"]], on="id", how="inner")
    return joined.sort_values("timestamp").reset_index(drop=True)


def retrain_model(ctx: RemediationContext) -> RetrainOutcome:
    """Train a challenger on recent labeled data; promote it only if it beats the champion."""
    training = ctx.model.training
    if training is None:
        ctx.record("retrain", "refused", "no training: section in the config")
        ctx.tell(f"retrain refused: models.{ctx.model.name}.training is not configured")
        return RetrainOutcome("refused", [])
    if not _guarded(ctx, "retrain"):
        return RetrainOutcome("skipped", [])
    data = training_data(ctx.model, ctx.now)
    if len(data) < training.min_rows:
        detail = (f"only {len(data)} labeled rows in the last {training.window} "
                  f"(needs {training.min_rows})")
        ctx.record("retrain", "refused", detail)
        ctx.tell(f"retrain refused: {detail}")
        return RetrainOutcome("refused", [])
    split = int(len(data) * (1 - training.holdout))
    train, holdout = data.iloc[:split], data.iloc[split:]  # time-ordered: no leakage
    remediation_id = ctx.record("retrain", "running", f"{len(train)} rows, holdout "
                                f"{len(holdout)}")
    ctx.tell(f"retrain started on {len(train)} labeled rows (holdout {len(holdout)})")
    challenger, train_metrics = _trainer(training.trainer)(train)
    registry = StoreRegistry(ctx.store)
    champion_version = registry.alias(ctx.model.name, CHAMPION)
    champion_info = next((v for v in registry.versions(ctx.model.name)
                          if v.version == champion_version), None)
    features = [f for f in ctx.model.features if f not in ctx.model.categorical]
    challenger_score = _score(challenger, holdout, training.metric, features)
    champion_score = (_score(load_artifact(champion_info), holdout, training.metric, features)
                      if champion_info is not None else float("-inf"))
    better = challenger_score >= champion_score + training.margin
    comparison = [
        {"model": f"champion {champion_version}", training.metric: round(champion_score, 4),
         "rows": len(holdout)},
        {"model": "challenger", training.metric: round(challenger_score, 4),
         "rows": len(holdout), "margin": training.margin, "promote": better},
    ]
    if ctx.dry_run or not better:
        status = "dry_run" if ctx.dry_run else "not_promoted"
        detail = (f"challenger {training.metric} {challenger_score:.4f} vs champion "
                  f"{champion_score:.4f} (margin {training.margin})")
        ctx.store.finish_remediation(remediation_id, status, ctx.now, detail)
        ctx.tell(f"retrain {status.replace('_', ' ')}: {detail}")
        return RetrainOutcome(status, comparison)
    version = f"v{len(registry.versions(ctx.model.name)) + 1}-retrained"
    artifact = ctx.settings.state_path / "models" / f"{ctx.model.name}-{version}.pkl"
    from mlwatch.demo.model import save

    save(challenger, artifact)
    registry.register(VersionInfo(
        ctx.model.name, version, ctx.now, ctx.now,
        {**train_metrics, f"holdout_{training.metric}": challenger_score}, str(artifact),
        training_start=utc(train["timestamp"].iloc[0].to_pydatetime()),
        training_end=utc(train["timestamp"].iloc[-1].to_pydatetime())))
    registry.promote(ctx.model.name, version, ctx.now)
    ctx.store.finish_remediation(remediation_id, "succeeded", ctx.now,
                                 f"promoted {version}", from_version=champion_version,
                                 to_version=version)
    ctx.tell(f"retrain promoted {version}: {training.metric} {challenger_score:.4f} vs "
             f"{champion_score:.4f}; waiting for the check to recover")
    return RetrainOutcome("succeeded", comparison, version)


# --------------------------------------------------------------------------- approval
def await_approval(ctx: RemediationContext, action: str) -> bool:
    """Pause this flow run until a person approves in the Prefect UI (or Slack resumes it)."""
    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import pause_flow_run

    rule = ctx.rule
    timeout = int(rule.approval_timeout.total_seconds()) if rule else 3600
    remediation_id = ctx.record(action, "awaiting_approval", "paused for approval")
    ui = f"{ctx.settings.slack.ui_url}/runs/flow-run/{ctx.flow_run_id}"
    ctx.tell(f"{action} awaits approval: resume the paused run in the Prefect UI ({ui}) or "
             "press Roll back in Slack")
    try:
        answer = pause_flow_run(wait_for_input=Approval, timeout=timeout)
    except FlowPauseTimeout:
        ctx.store.finish_remediation(remediation_id, "expired", ctx.now,
                                     f"no approval within {timeout}s")
        ctx.tell(f"{action} not approved within {timeout}s; nothing was done")
        return False
    if not answer.approve:
        ctx.store.finish_remediation(remediation_id, "rejected", ctx.now,
                                     f"rejected by {answer.approver}: {answer.note}")
        ctx.tell(f"{action} rejected by {answer.approver}: {answer.note or 'no reason given'}")
        return False
    ctx.store.finish_remediation(remediation_id, "approved", ctx.now,
                                 f"approved by {answer.approver}")
    ctx.actor = answer.approver
    ctx.tell(f"{action} approved by {answer.approver}")
    return True


def ensure_concurrency_limit(name: str, limit: int = 1) -> None:
    """Create the global concurrency limit that ``strict=True`` requires, if missing."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=limit))


def _run(action: str, model: str, incident_id: int | None, config_path: str,
         now: datetime | None, alert: str, mode: str, dry_run: bool, actor: str,
         work: Callable[[RemediationContext], Any]) -> Any:
    from mlwatch.clock import clock_for

    settings = load_settings(config_path)
    model_cfg = settings.model(model)
    store = open_store(settings.store)
    ctx = RemediationContext(store, settings, model_cfg, incident_id, alert,
                             utc(now) if now else clock_for(settings).now(), mode, dry_run,
                             actor, flow_run.id)
    try:
        if mode == "approve" and not await_approval(ctx, action):
            return "not_approved"
        limit = f"mlwatch-remediation-{model}"
        ensure_concurrency_limit(limit)
        with concurrency(limit, occupy=1, strict=True, timeout_seconds=120):
            outcome = work(ctx)
        get_run_logger().info("%s of %s: %s", action, model, outcome)
        return outcome
    finally:
        store.dispose()


@flow(name="mlwatch-rollback", log_prints=True)
def rollback(model: str, incident_id: int | None = None, config_path: str = "mlwatch.yaml",
             now: datetime | None = None, alert: str = "error_rate_spike", mode: str = "auto",
             dry_run: bool = False, actor: str = "mlwatch") -> str:
    """Roll ``model`` back to its last known-good version (one remediation per model at once)."""
    return _run("rollback", model, incident_id, config_path, now, alert, mode, dry_run, actor,
                rollback_model)


@flow(name="mlwatch-retrain", log_prints=True)
def retrain(model: str, incident_id: int | None = None, config_path: str = "mlwatch.yaml",
            now: datetime | None = None, alert: str = "data_drift", mode: str = "auto",
            dry_run: bool = False, actor: str = "mlwatch") -> str:
    """Train a challenger on recent labeled data and promote it only if clearly better."""
    from prefect.artifacts import create_table_artifact

    def work(ctx: RemediationContext) -> str:
        outcome = retrain_model(ctx)
        if outcome.comparison:
            create_table_artifact(key=f"{model.lower()}-retrain-comparison".replace("_", "-"),
                                  table=outcome.comparison,
                                  description=f"champion vs challenger for {model}")
        return outcome.status

    return _run("retrain", model, incident_id, config_path, now, alert, mode, dry_run, actor,
                work)


REMEDIATION_FLOWS = {"rollback": rollback, "retrain": retrain}
