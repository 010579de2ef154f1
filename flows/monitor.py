"""The monitor flow: load -> check -> decide -> record -> notify / remediate, per model and group.

One flow run per model and check group on its schedule; one task per check (vectorised
inside), never a task per feature or row. A run that evaluated completes, breach or not;
a run that could not evaluate fails with a clear message, and repeated failures open a
``monitor_failure`` incident.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.runtime import flow_run
from prefect.tasks import exponential_backoff

from checks._time import utc
from checks.report import evidently_drift_html
from checks.result import CheckResult, Status
from flows.remediation import REMEDIATION_FLOWS
from flows.reporting import emit_incident_events, publish_artifacts
from incidents.lifecycle import NoticeSettings, Outcome, note, record_results
from incidents.policy import Action, incident_key
from incidents.slack import deliver_pending
from incidents.store import Store
from mlwatch.clock import clock_for
from mlwatch.config import ModelConfig, Settings, load_settings
from mlwatch.db import open_store
from mlwatch.diagnosis import first_diagnosis
from mlwatch.errors import MlwatchError, SourceError
from mlwatch.evaluate import GroupData, load_group_data, read_reference_file, safe_evaluate
from mlwatch.plan import group_checks
from mlwatch.wiring import (
    firing_rules,
    inhibition_rules,
    make_sender,
    notice_context,
    remediation_labels,
)

_DUE_TOLERANCE = 0.2  # a check is due once 80% of its interval has passed (schedule jitter)


def _is_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only source errors (database down, file being written), never bugs."""
    try:
        state.result()
    except SourceError:
        return True
    except Exception:  # noqa: BLE001 - anything else is not worth retrying
        return False
    return False


def _run_name() -> str:
    params = flow_run.parameters
    when = params.get("now")
    if when is None:
        try:
            when = clock_for(load_settings(params["config_path"])).now()
        except MlwatchError:
            when = flow_run.scheduled_start_time
    stamp = utc(when if isinstance(when, datetime) else datetime.fromisoformat(str(when)))
    return f"{params['model']} · {params['group']} · {stamp:%Y-%m-%dT%H:%MZ}"


@task(cache_policy=NONE, retries=2, retry_delay_seconds=exponential_backoff(backoff_factor=2),
      retry_condition_fn=_is_transient)
def load_data(model: ModelConfig, group: str, now: datetime) -> GroupData:
    """Read each source the group needs, once."""
    return load_group_data(model, group, now)


@task(cache_policy=NONE, task_run_name="check-{alert}")
def run_check(model: ModelConfig, alert: str, check: Any, data: GroupData, now: datetime
              ) -> CheckResult:
    """One vectorised check over the whole batch."""
    return safe_evaluate(model, alert, check, data, now)


@task(cache_policy=NONE)
def record(store: Store, settings: Settings, model: ModelConfig, results: list[CheckResult]
           ) -> list[Outcome]:
    """Apply the alert policy and queue notices."""
    run_id = flow_run.id
    url = f"{settings.slack.ui_url}/runs/flow-run/{run_id}" if run_id else None
    return record_results(
        store, results, rules=firing_rules(model), inhibit=inhibition_rules(settings),
        notices=NoticeSettings(settings.slack.channel, notice_context(settings, model)),
        remediation=remediation_labels(model), flow_run_id=run_id, flow_run_url=url)


@task(cache_policy=NONE)
def diagnose_opened(store: Store, settings: Settings, model: ModelConfig,
                    outcomes: list[Outcome], now: datetime) -> None:
    """Gather the runbook's first diagnostics for each new incident, into its thread."""
    notices = NoticeSettings(settings.slack.channel, notice_context(settings, model))
    labels = remediation_labels(model)
    for outcome in outcomes:
        if outcome.applied.action is Action.OPEN and outcome.applied.incident_id:
            text = first_diagnosis(store, model, outcome.result.alert, now)
            note(store, outcome.applied.incident_id, "diagnosis", text, now, notices,
                 labels.get(outcome.result.alert))


@task(cache_policy=NONE)
def deliver_notices(store: Store, settings: Settings, now: datetime) -> dict[str, Any]:
    """Send the outbox; what fails stays queued for the next run."""
    report = deliver_pending(store, make_sender(settings), now)
    if report.failed:
        get_run_logger().warning("notices not delivered yet (will retry): %s", report.failed)
    return {"sent": len(report.sent), "recovered": len(report.recovered),
            "failed": len(report.failed), "waiting": len(report.waiting)}


def _evaluate_due(model: ModelConfig, alert: str, check: Any, data: GroupData, now: datetime,
                  config_path: str) -> CheckResult:
    """A task in this process, or — for drift configured with ``dask:`` — a subflow whose
    tasks run on the Dask cluster."""
    if alert == "data_drift" and getattr(check, "dask", None) is not None:
        from flows.dask_drift import drift_on_dask_for

        return drift_on_dask_for(check)(model=model.name, config_path=config_path, now=now)
    return run_check(model, alert, check, data, now)


def _due(store: Store, model: ModelConfig, checks: dict[str, Any], now: datetime,
         force: bool) -> list[str]:
    if force:
        return list(checks)
    last = store.last_evaluated([incident_key(model.name, alert) for alert in checks])
    due = []
    for alert, check in checks.items():
        seen = last.get(incident_key(model.name, alert))
        if seen is None or now - seen >= check.every * (1 - _DUE_TOLERANCE):
            due.append(alert)
    return due


def _write_drift_report(settings: Settings, model: ModelConfig, data: GroupData,
                        now: datetime, window: timedelta) -> Path | None:
    """Save the Evidently HTML report for humans next to the run's artifacts."""
    source = model.sources.reference
    if data.quality is None or source is None or not source.path:
        return None
    import pandas as pd

    reference = read_reference_file(source.path, list(model.features))
    batch = data.quality.valid
    batch = batch[batch["timestamp"] > pd.Timestamp(now - window)]
    numerical = [f for f in model.features if f not in model.categorical]
    categorical = [f for f in model.features if f in model.categorical]
    if batch.empty:
        return None
    html = evidently_drift_html(reference, batch, numerical=numerical, categorical=categorical)
    path = settings.state_path / "reports" / model.name / f"{now:%Y%m%dT%H%M}-data-drift.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


def _remediate(store: Store, settings: Settings, model: ModelConfig, outcomes: list[Outcome],
               config_path: str, now: datetime) -> None:
    """Start the configured remediation for each new incident: inline, or paused for approval."""
    notices = NoticeSettings(settings.slack.channel, notice_context(settings, model))
    labels = remediation_labels(model)
    for outcome in outcomes:
        alert = outcome.result.alert
        rule = model.remediation.get(alert)
        incident_id = outcome.applied.incident_id
        if (outcome.applied.action is not Action.OPEN or incident_id is None or rule is None
                or rule.mode == "off" or rule.action == "none"):
            continue
        parameters = {"model": model.name, "incident_id": incident_id, "alert": alert,
                      "config_path": config_path, "now": now, "mode": rule.mode,
                      "dry_run": rule.dry_run}
        if rule.mode == "auto":
            REMEDIATION_FLOWS[rule.action](**parameters)
            continue
        # approve: a separate flow run pauses for input, so this monitor run is not blocked.
        name = f"mlwatch-{rule.action}/{model.name}-{rule.action}"
        try:
            from prefect.deployments import run_deployment

            run_deployment(name=name, parameters=parameters, timeout=0)
        except Exception as exc:  # noqa: BLE001 - say why on the incident, keep monitoring
            note(store, incident_id, "remediation",
                 f"{rule.action} needs approval but deployment {name} could not start: {exc}",
                 now, notices, labels.get(alert))


def _escalate_unrecovered(store: Store, settings: Settings, model: ModelConfig,
                          now: datetime) -> None:
    """Remediated but not recovered in time: escalate once, and stop acting automatically."""
    notices = NoticeSettings(settings.slack.channel, notice_context(settings, model))
    for incident in store.incidents(status="active", model=model.name):
        rule = model.remediation.get(incident.alert)
        if rule is None or incident.escalated_at is not None:
            continue
        done = [r for r in store.remediations(incident_id=incident.id)
                if r.status == "succeeded" and r.finished_at]
        if not done or utc(now) - utc(done[-1].finished_at) < rule.verify_within:
            continue
        message = (f"{model.owner} {incident.alert} has not recovered "
                   f"{rule.verify_within} after {rule.action}; no further automatic action")
        if store.escalate(incident.id, now):
            note(store, incident.id, "escalated", message, now, notices,
                 remediation_labels(model).get(incident.alert))


@flow(name="mlwatch-monitor", flow_run_name=_run_name, log_prints=True)
def monitor(model: str, group: str, config_path: str = "mlwatch.yaml",
            now: datetime | None = None, force: bool = False) -> dict[str, Any]:
    """Evaluate one model's check group, record incidents, notify and remediate."""
    logger = get_run_logger()
    settings = load_settings(config_path)
    model_cfg = settings.model(model)
    now = utc(now) if now else clock_for(settings).now()
    store = open_store(settings.store)
    try:
        checks = group_checks(model_cfg, group)
        due = _due(store, model_cfg, checks, now, force)
        if not due:
            logger.info("no check of %s/%s is due at %s", model, group, now.isoformat())
            return {"evaluated": [], "now": now.isoformat()}
        try:
            data = load_data(model_cfg, group, now)
        except (SourceError, MlwatchError) as exc:
            _record_monitor_failure(store, settings, model_cfg, group, now, str(exc))
            deliver_notices(store, settings, now)
            raise
        results = [_evaluate_due(model_cfg, alert, checks[alert], data, now, config_path)
                   for alert in due]
        results.append(_monitor_ok(model_cfg, group, now))
        outcomes = record(store, settings, model_cfg, results)
        diagnose_opened(store, settings, model_cfg, outcomes, now)
        _remediate(store, settings, model_cfg, outcomes, config_path, now)
        _escalate_unrecovered(store, settings, model_cfg, now)
        delivery = deliver_notices(store, settings, now)
        report = None
        drift = checks.get("data_drift")
        if drift is not None and "data_drift" in due:
            try:
                report = _write_drift_report(settings, model_cfg, data, now, drift.window)
            except Exception as exc:  # noqa: BLE001 - the human report must not fail the run
                logger.warning("Evidently report not written: %s", exc)
        shown = [o for o in outcomes if o.result.alert != "monitor_failure"]
        publish_artifacts(model, group, now, shown, settings.slack.ui_url, report,
                          settings.slack.runbook_base_url)
        emit_incident_events(shown, flow_run.id)
        for o in shown:
            logger.info("%s: %s -> %s", o.result.alert, o.result.status.value,
                        o.applied.action.value)
        return {
            "now": now.isoformat(),
            "evaluated": [o.result.alert for o in shown],
            "breaches": [o.result.alert for o in shown if o.result.status is Status.BREACH],
            "incidents": {o.result.alert: o.applied.incident_id for o in shown
                          if o.applied.incident_id},
            "actions": {o.result.alert: o.applied.action.value for o in shown},
            "notices": delivery,
        }
    finally:
        store.dispose()


def _monitor_ok(model: ModelConfig, group: str, now: datetime) -> CheckResult:
    return CheckResult("monitor_failure", model.name, Status.OK, 0.0, None, None, now,
                       f"{model.name}: {group} monitor evaluated", labels={"group": group})


def _record_monitor_failure(store: Store, settings: Settings, model: ModelConfig, group: str,
                            now: datetime, message: str) -> None:
    """Count a failed run; enough in a row open a monitor_failure incident."""
    from incidents.policy import FiringRule

    key = incident_key(model.name, "monitor_failure", {"group": group})
    result = CheckResult("monitor_failure", model.name, Status.BREACH, None, None, None, now,
                         f"{model.name}: {group} monitor could not evaluate: {message}",
                         {"error": message}, labels={"group": group})
    rule = FiringRule(settings.policy.monitor_failures_before_incident, 1)
    applied = store.apply(result, rule, flow_run_id=flow_run.id)
    if applied.action is Action.OPEN and applied.incident_id is not None:
        from incidents.notices import enqueue_root

        enqueue_root(store, store.incident(applied.incident_id),
                     notice_context(settings, model), None, now, settings.slack.channel)
    get_run_logger().error("monitor %s failed (%s): %s", key, applied.action.value, message)

