"""The ``mlwatch`` command line."""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from checks._time import format_duration, parse_duration, utc
from mlwatch.config import Settings, load_settings
from mlwatch.errors import MlwatchError

app = typer.Typer(help="mlwatch: ML monitoring on Prefect that pages rarely and rightly.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
config_app = typer.Typer(help="Validate configuration.", no_args_is_help=True)
incidents_app = typer.Typer(help="List, inspect, acknowledge and resolve incidents.",
                            no_args_is_help=True)
silence_app = typer.Typer(help="Silences (maintenance windows).", no_args_is_help=True)
remediate_app = typer.Typer(help="Run a remediation by hand.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(incidents_app, name="incidents")
app.add_typer(silence_app, name="silence")
app.add_typer(remediate_app, name="remediate")

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="mlwatch YAML config")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
DEFAULT_CONFIG = Path(os.environ.get("MLWATCH_CONFIG", "mlwatch.yaml"))


def _settings(config: Path) -> Settings:
    return load_settings(config)


def _now(settings: Settings) -> datetime:
    from mlwatch.clock import clock_for

    return clock_for(settings).now()


def _store(settings: Settings):  # noqa: ANN202 - Store; imported lazily to keep startup fast
    from mlwatch.db import open_store

    return open_store(settings.store)


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


# --------------------------------------------------------------------------- config
@config_app.command("check")
def config_check(file: Annotated[Path, typer.Argument(help="config file to validate")]) -> None:
    """Validate FILE; exit non-zero with every problem named by its key path."""
    settings = load_settings(file)
    checks = sum(len(m.checks.enabled()) for m in settings.models)
    typer.echo(f"{file}: OK ({len(settings.models)} model(s), {checks} check(s))")


# --------------------------------------------------------------------------- run / stop
@app.command()
def run(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Start the embedded default: Prefect server, demo world, and the served deployments."""
    from mlwatch import processes

    settings = _settings(config)
    state = settings.state_path
    state.mkdir(parents=True, exist_ok=True)
    os.environ.update(processes.prefect_env(state, settings.prefect_api_url))
    store = _store(settings)
    interrupted = store.mark_interrupted_remediations(datetime.now(UTC))
    store.dispose()
    if interrupted:
        typer.echo(f"marked interrupted remediation(s) {interrupted}; they are not rerun")
    server = processes.ensure_server(state, settings.prefect_api_url)
    started = [server.name] if server.started else []
    if settings.demo.enabled and processes.running_pid(state, "demo-world") is None:
        processes.spawn(state, "demo-world",
                        [sys.executable, "-m", "mlwatch.demo.world", "--config", str(config)],
                        dict(os.environ))
        started.append("demo-world")
    (state / "pids").mkdir(parents=True, exist_ok=True)
    (state / "pids" / "mlwatch-run.pid").write_text(str(os.getpid()))
    from deployments.serve import build_deployments, serve_all
    from mlwatch.db import redact
    from mlwatch.wiring import notices_path, slack_token

    ui = settings.prefect_api_url.removesuffix("/api")
    target = (f"Slack channel {settings.slack.channel}" if slack_token(settings)
              else f"this console and {notices_path(settings)}")
    names = [d.name for d in build_deployments(settings, str(config))]
    typer.echo("\n".join([
        "", "mlwatch is running.",
        f"  Prefect UI:        {ui}  (deployments: {', '.join(names)})",
        f"  Incident notices:  {target}",
        f"  Store:             {redact(settings.store)}",
        f"  Demo world:        {'on, ' + str(settings.demo.speed) + 'x speed' if settings.demo.enabled else 'off'}",  # noqa: E501
        "  Try:               mlwatch incidents list   |   mlwatch incidents stats",
        "  Stop:              Ctrl-C, or `make stop` from another terminal", "",
    ]))

    def _terminate(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        serve_all(settings, str(config))
    except KeyboardInterrupt:
        pass
    finally:
        for name in reversed(started):
            processes.stop(state, name)
        (state / "pids" / "mlwatch-run.pid").unlink(missing_ok=True)
        typer.echo(f"stopped: {', '.join(['deployments', *started])}")


@app.command()
def stop(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Stop everything `mlwatch run` started (served deployments, demo world, Prefect server)."""
    from mlwatch import processes

    state = _settings(config).state_path
    stopped = [name for name in ("mlwatch-run", "demo-world", "prefect-server")
               if processes.stop(state, name)]
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command("monitor")
def monitor_once(model: Annotated[str, typer.Option(help="model name")],
                 group: Annotated[str, typer.Option(help="serving | batch | pipeline")],
                 config: ConfigOpt = DEFAULT_CONFIG,
                 force: Annotated[bool, typer.Option(help="run checks even if not due")] = True,
                 ) -> None:
    """Run one monitor flow now (outside the schedule)."""
    from flows.monitor import monitor

    _echo_json(monitor(model=model, group=group, config_path=str(config), force=force))


# --------------------------------------------------------------------------- incidents
def _incident_dict(incident: Any) -> dict[str, Any]:
    fields = ("id", "model", "alert", "severity", "status", "summary", "value", "threshold",
              "opened_at", "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by",
              "fault_started_at", "breach_count", "escalated_at", "flow_run_url", "slack_ts")
    data = {f: getattr(incident, f) for f in fields}
    data["labels"] = incident.labels
    return data


@incidents_app.command("list")
def incidents_list(config: ConfigOpt = DEFAULT_CONFIG,
                   status: Annotated[str | None, typer.Option(
                       help="open | acknowledged | resolved | active")] = None,
                   model: Annotated[str | None, typer.Option()] = None,
                   limit: int = 50, as_json: JsonOpt = False) -> None:
    """Incidents, newest first."""
    store = _store(_settings(config))
    rows = store.incidents(status=status, model=model, limit=limit)
    if as_json:
        _echo_json([_incident_dict(i) for i in rows])
        return
    if not rows:
        typer.echo("no incidents")
        return
    for i in rows:
        took = (format_duration(utc(i.resolved_at) - utc(i.opened_at))
                if i.resolved_at else "-")
        typer.echo(f"#{i.id:<4} {i.status:<12} {i.severity:<6} {i.model}/{i.alert:<20} "
                   f"opened {utc(i.opened_at):%m-%d %H:%M}  resolved in {took:<8} {i.summary}")


@incidents_app.command("show")
def incidents_show(incident_id: int, config: ConfigOpt = DEFAULT_CONFIG,
                   as_json: JsonOpt = False) -> None:
    """One incident with its timeline and remediations."""
    store = _store(_settings(config))
    incident = store.incident(incident_id)
    events = [{"at": e.at, "kind": e.kind, "actor": e.actor, "message": e.message}
              for e in incident.events]
    remediations = [{"id": r.id, "action": r.action, "status": r.status, "mode": r.mode,
                     "detail": r.detail, "started_at": r.started_at,
                     "finished_at": r.finished_at}
                    for r in store.remediations(incident_id=incident_id)]
    if as_json:
        _echo_json({**_incident_dict(incident), "timeline": events,
                    "remediations": remediations})
        return
    typer.echo(f"incident #{incident.id} · {incident.model}/{incident.alert} · "
               f"{incident.severity} · {incident.status}")
    typer.echo(f"  {incident.summary}")
    if incident.flow_run_url:
        typer.echo(f"  flow run: {incident.flow_run_url}")
    typer.echo(f"  runbook: mlwatch runbook {incident.alert}")
    typer.echo("timeline:")
    for e in events:
        typer.echo(f"  {utc(e['at']):%Y-%m-%d %H:%M:%S}  {e['kind']:<13} {e['actor']:<10} "
                   f"{e['message']}")
    for r in remediations:
        typer.echo(f"remediation #{r['id']}: {r['action']} {r['status']} — {r['detail']}")


def _lifecycle(incident_id: int, config: Path, actor: str, action: str, reason: str = "",
               as_json: bool = False) -> None:
    from incidents.lifecycle import NoticeSettings
    from incidents.notices import enqueue_update
    from incidents.slack import deliver_pending
    from mlwatch.wiring import make_sender, notice_context, remediation_labels

    settings = _settings(config)
    store = _store(settings)
    now = _now(settings)
    if action == "ack":
        incident = store.acknowledge(incident_id, actor, now)
        event, message = "acknowledged", f"acknowledged by {actor}"
    else:
        incident = store.resolve(incident_id, actor, now, reason or "resolved by hand")
        event, message = "resolved", f"resolved by {actor}: {reason or 'by hand'}"
    model = settings.model(incident.model)
    notices = NoticeSettings(settings.slack.channel, notice_context(settings, model))
    enqueue_update(store, store.incident(incident_id), notices.context,
                   remediation_labels(model).get(incident.alert), event, message, now,
                   notices.channel)
    deliver_pending(store, make_sender(settings, console=False), now)
    if as_json:
        _echo_json(_incident_dict(store.incident(incident_id)))
        return
    typer.echo(f"incident #{incident_id}: {message}")


@incidents_app.command("ack")
def incidents_ack(incident_id: int, config: ConfigOpt = DEFAULT_CONFIG,
                  by: Annotated[str, typer.Option(help="who acknowledges")] = "cli",
                  as_json: JsonOpt = False) -> None:
    """Acknowledge an incident (records who and when; updates the Slack thread)."""
    _lifecycle(incident_id, config, by, "ack", as_json=as_json)


@incidents_app.command("resolve")
def incidents_resolve(incident_id: int, config: ConfigOpt = DEFAULT_CONFIG,
                      by: Annotated[str, typer.Option()] = "cli",
                      reason: Annotated[str, typer.Option()] = "",
                      as_json: JsonOpt = False) -> None:
    """Resolve an incident by hand."""
    _lifecycle(incident_id, config, by, "resolve", reason, as_json=as_json)


@incidents_app.command("fault-start")
def incidents_fault_start(incident_id: int,
                          at: Annotated[str, typer.Argument(help="ISO time the fault began")],
                          config: ConfigOpt = DEFAULT_CONFIG,
                          by: Annotated[str, typer.Option()] = "cli",
                          as_json: JsonOpt = False) -> None:
    """Record when the fault really began (postmortem), so `stats` can report MTTD."""
    settings = _settings(config)
    store = _store(settings)
    store.set_fault_start(incident_id, _parse_time(at, "AT"), by, _now(settings))
    if as_json:
        _echo_json(_incident_dict(store.incident(incident_id)))
        return
    typer.echo(f"incident #{incident_id}: fault start recorded")


@incidents_app.command("stats")
def incidents_stats(config: ConfigOpt = DEFAULT_CONFIG, as_json: JsonOpt = False) -> None:
    """Counts, MTTA, MTTR (and MTTD where the fault start is known) per model and alert."""
    from incidents.stats import incident_stats

    store = _store(_settings(config))
    rows = incident_stats(store.incidents(limit=100_000))
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        typer.echo("no incidents yet")
        return

    def fmt(seconds: float | None) -> str:
        from datetime import timedelta

        return "-" if seconds is None else format_duration(timedelta(seconds=seconds))

    typer.echo(f"{'model':<14}{'alert':<22}{'incidents':>10}{'open':>6}{'MTTA':>10}"
               f"{'MTTR':>10}{'MTTD':>10}")
    for r in rows:
        typer.echo(f"{r['model']:<14}{r['alert']:<22}{r['incidents']:>10}{r['open']:>6}"
                   f"{fmt(r['mtta_s']):>10}{fmt(r['mttr_s']):>10}{fmt(r['mttd_s']):>10}")


# --------------------------------------------------------------------------- silences
@silence_app.command("add")
def silence_add(reason: Annotated[str, typer.Option(help="why (shown to responders)")],
                model: Annotated[str | None, typer.Option(help="model (all if omitted)")] = None,
                alert: Annotated[str | None, typer.Option(help="alert (all if omitted)")] = None,
                duration: Annotated[str, typer.Option("--for", help="e.g. 2h, 30m")] = "2h",
                config: ConfigOpt = DEFAULT_CONFIG, as_json: JsonOpt = False) -> None:
    """Silence matching breaches: recorded, not notified."""
    settings = _settings(config)
    span = parse_duration(duration)
    silence = _store(settings).add_silence(model=model, alert=alert, starts_at=_now(settings),
                                           duration=span, reason=reason)
    if as_json:
        _echo_json({"id": silence.id, "ends_at": silence.ends_at})
        return
    typer.echo(f"silence #{silence.id}: {model or '*'}/{alert or '*'} for {duration} "
               f"(until {utc(silence.ends_at):%Y-%m-%d %H:%M} UTC): {reason}")


@silence_app.command("list")
def silence_list(config: ConfigOpt = DEFAULT_CONFIG,
                 all_: Annotated[bool, typer.Option("--all", help="include expired")] = False,
                 as_json: JsonOpt = False) -> None:
    """Active silences (or all with --all)."""
    settings = _settings(config)
    rows = _store(settings).silences(_now(settings), include_expired=all_)
    if as_json:
        _echo_json([{"id": s.id, "model": s.model, "alert": s.alert, "starts_at": s.starts_at,
                     "ends_at": s.ends_at, "reason": s.reason} for s in rows])
        return
    if not rows:
        typer.echo("no active silences")
    for s in rows:
        typer.echo(f"#{s.id} {s.model or '*'}/{s.alert or '*'} until "
                   f"{utc(s.ends_at):%Y-%m-%d %H:%M} UTC: {s.reason}")


@silence_app.command("expire")
def silence_expire(silence_id: int, config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """End a silence now."""
    settings = _settings(config)
    _store(settings).expire_silence(silence_id, _now(settings))
    typer.echo(f"silence #{silence_id} expired")


# --------------------------------------------------------------------------- runbooks
@app.command()
def runbook(alert: str) -> None:
    """Show the runbook for ALERT."""
    from incidents.runbooks import load_runbook

    book = load_runbook(alert)
    typer.echo(book.path.read_text())


# --------------------------------------------------------------------------- remediation
def _remediate_now(action: str, model: str, incident: int | None, config: Path,
                   dry_run: bool, by: str) -> None:
    from flows.remediation import RemediationContext, retrain_model, rollback_model

    settings = _settings(config)
    store = _store(settings)
    alert = store.incident(incident).alert if incident is not None else "manual"
    ctx = RemediationContext(store, settings, settings.model(model), incident, alert,
                             _now(settings), "manual", dry_run, by)
    outcome = rollback_model(ctx) if action == "rollback" else retrain_model(ctx).status
    typer.echo(f"{action} of {model}: {outcome}")


@remediate_app.command("rollback")
def remediate_rollback(model: Annotated[str, typer.Option()],
                       incident: Annotated[int | None, typer.Option()] = None,
                       config: ConfigOpt = DEFAULT_CONFIG,
                       dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
                       by: Annotated[str, typer.Option()] = "cli") -> None:
    """Roll MODEL back to its last known-good version now."""
    _remediate_now("rollback", model, incident, config, dry_run, by)


@remediate_app.command("retrain")
def remediate_retrain(model: Annotated[str, typer.Option()],
                      incident: Annotated[int | None, typer.Option()] = None,
                      config: ConfigOpt = DEFAULT_CONFIG,
                      dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
                      by: Annotated[str, typer.Option()] = "cli") -> None:
    """Retrain MODEL on recent labeled data; promote only if it beats the champion."""
    _remediate_now("retrain", model, incident, config, dry_run, by)


# --------------------------------------------------------------------------- scale out
@app.command()
def deploy(pool: Annotated[str, typer.Option(help="Prefect work pool (created if missing)")]
           = "mlwatch",
           pool_limit: Annotated[int, typer.Option(help="flow runs at once in the pool")] = 8,
           per_model_limit: Annotated[int, typer.Option(
               help="flow runs at once per model")] = 2,
           config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Deploy every monitor and remediation flow to a work pool for `prefect worker start`."""
    from deployments.pool import PoolSettings, deploy_all

    settings = _settings(config)
    _store(settings).dispose()  # migrate once here, before many workers start
    names = deploy_all(settings, str(config), PoolSettings(pool, pool_limit, per_model_limit))
    typer.echo(f"deployed {len(names)} deployment(s) to work pool {pool!r}:")
    for name in names:
        typer.echo(f"  {name}")
    typer.echo(f"start workers with: prefect worker start --pool {pool}")


# --------------------------------------------------------------------------- slack
@app.command("slack-actions")
def slack_actions(port: Annotated[int, typer.Option(help="port to listen on")] = 3000,
                  host: Annotated[str, typer.Option()] = "127.0.0.1",
                  config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Serve Slack's interactivity endpoint (POST /slack/actions) for the incident buttons."""
    import uvicorn

    from mlwatch.errors import ConfigError
    from mlwatch.slack_actions import ActionHandler, create_app
    from mlwatch.wiring import signing_secret

    settings = _settings(config)
    secret = signing_secret(settings)
    if not secret:
        raise ConfigError(
            f"no Slack signing secret: set {settings.slack.signing_secret_env} or the Prefect "
            "Secret block mlwatch-slack-signing-secret; requests cannot be verified without it"
        )
    handler = ActionHandler(settings, _store(settings), str(config.resolve()))
    typer.echo(f"Slack actions endpoint on http://{host}:{port}/slack/actions")
    uvicorn.run(create_app(handler, secret), host=host, port=port, log_level="warning")


# --------------------------------------------------------------------------- backtest
@app.command()
def backtest(start: Annotated[str, typer.Option(help="ISO time, e.g. 2026-11-01T00:00Z")],
             end: Annotated[str, typer.Option(help="ISO time")],
             config: ConfigOpt = DEFAULT_CONFIG,
             json_out: Annotated[Path | None, typer.Option(
                 "--json", help="write the full report as JSON to this file")] = None) -> None:
    """Replay every check over history through the same policy; notify and remediate nothing."""
    from mlwatch.backtest import backtest as run_backtest

    settings = _settings(config)
    report = run_backtest(settings, _parse_time(start, "--start"), _parse_time(end, "--end"))
    data = report.to_dict()
    if json_out is not None:
        json_out.write_text(json.dumps(data, indent=2, default=str))
    typer.echo(f"{data['evaluations']} evaluations over {data['days']} days in "
               f"{data['seconds']} s: {data['incidents_total']} incidents "
               f"({data['alerts_per_day']}/day, {data['pages_total']} pages)")
    for alert, count in data["incidents_by_alert"].items():
        typer.echo(f"  {alert:<22}{count}")
    for i in data["incidents"]:
        typer.echo(f"  #{i['id']:<4} {i['model']}/{i['alert']:<20} {i['severity']:<6} "
                   f"{i['opened_at'][:16]} -> {(i['resolved_at'] or 'open')[:16]}")


def _parse_time(text: str, option: str) -> datetime:
    try:
        return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO time, e.g. 2026-11-01T00:00Z",
                                 param_hint=option) from None


def main() -> None:
    """Entry point: one clear line and a non-zero exit for every expected failure."""
    try:
        app()
    except MlwatchError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except (LookupError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
