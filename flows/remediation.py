"""Remediation subflows: rollback (and its guard rails), run from monitor flows or Slack."""

from __future__ import annotations

import contextlib
from datetime import datetime

from prefect import flow, get_run_logger
from prefect.concurrency.sync import concurrency
from prefect.runtime import flow_run

from checks._time import utc
from incidents.lifecycle import NoticeSettings, note
from incidents.store import Store
from mlwatch.config import ModelConfig, RemediationRule, Settings, load_settings
from mlwatch.db import open_store
from mlwatch.registry import CHAMPION, RegistryError, StoreRegistry
from mlwatch.wiring import notice_context, remediation_labels


def _notices(settings: Settings, model: ModelConfig) -> NoticeSettings:
    return NoticeSettings(settings.slack.channel, notice_context(settings, model))


def in_cooldown(store: Store, model: str, action: str, rule: RemediationRule, now: datetime
                ) -> bool:
    """True when an automatic remediation of this kind finished within the cooldown."""
    for row in reversed(store.remediations(model=model)):
        if row.action == action and row.status == "succeeded" and row.finished_at:
            return utc(now) - utc(row.finished_at) < rule.cooldown
    return False


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


def rollback_model(store: Store, settings: Settings, model: ModelConfig, incident_id: int | None,
                   now: datetime, *, alert: str, mode: str, dry_run: bool, actor: str,
                   flow_run_id: str | None = None) -> str:
    """Move ``champion`` to the last known-good version; every step on the incident timeline."""
    registry = StoreRegistry(store)
    notices = _notices(settings, model)
    label = remediation_labels(model).get(alert)

    def tell(message: str) -> None:
        if incident_id is not None:
            note(store, incident_id, "remediation", message, now, notices, label, actor=actor)

    rule = model.remediation.get(alert) or RemediationRule(action="rollback")
    if actor == "mlwatch" and in_cooldown(store, model.name, "rollback", rule, now):
        tell("automatic rollback skipped: another rollback finished within the cooldown; "
             "a person must decide now")
        return "skipped"
    champion = registry.alias(model.name, CHAMPION)
    try:
        target = registry.rollback_target(model.name)
    except RegistryError as exc:
        store.start_remediation(incident_id=incident_id, model=model.name, action="rollback",
                                mode=mode, status="refused", now=now, detail=str(exc),
                                flow_run_id=flow_run_id)
        tell(f"rollback refused: {exc}")
        return "refused"
    if dry_run:
        store.start_remediation(incident_id=incident_id, model=model.name, action="rollback",
                                mode=mode, status="dry_run", now=now,
                                detail=f"would move champion {champion} -> {target.version}",
                                flow_run_id=flow_run_id)
        tell(f"dry run: would roll back {champion} -> {target.version}")
        return "dry_run"
    remediation_id = store.start_remediation(
        incident_id=incident_id, model=model.name, action="rollback", mode=mode,
        status="running", now=now, detail=f"{champion} -> {target.version}",
        flow_run_id=flow_run_id)
    tell(f"rollback started: champion {champion} -> {target.version} (by {actor})")
    if champion:
        registry.mark_bad(model.name, champion)
    registry.promote(model.name, target.version, now)
    store.finish_remediation(remediation_id, "succeeded", now,
                             f"champion is now {target.version}", from_version=champion,
                             to_version=target.version)
    tell(f"rollback finished: serving {target.version}; waiting for the check to recover")
    return "succeeded"


@flow(name="mlwatch-rollback", log_prints=True)
def rollback(model: str, incident_id: int | None = None, config_path: str = "mlwatch.yaml",
             now: datetime | None = None, alert: str = "error_rate_spike", mode: str = "auto",
             dry_run: bool = False, actor: str = "mlwatch") -> str:
    """Roll ``model`` back to its last known-good version (one remediation per model at once)."""
    from mlwatch.clock import clock_for

    settings = load_settings(config_path)
    model_cfg = settings.model(model)
    now = now or clock_for(settings).now()
    store = open_store(settings.store, migrate_schema=False)
    limit = f"mlwatch-remediation-{model}"
    ensure_concurrency_limit(limit)
    try:
        with concurrency(limit, occupy=1, strict=True, timeout_seconds=60):
            outcome = rollback_model(store, settings, model_cfg, incident_id, now, alert=alert,
                                     mode=mode, dry_run=dry_run, actor=actor,
                                     flow_run_id=flow_run.id)
    finally:
        store.dispose()
    get_run_logger().info("rollback of %s: %s", model, outcome)
    return outcome
