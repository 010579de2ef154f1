"""The mlwatch store: applies policy decisions, keeps incidents, their timeline and the outbox.

SQLite by default (WAL, BEGIN IMMEDIATE so concurrent evaluators serialise cleanly),
PostgreSQL by URL. Opening a key is race-free on both: ``incidents.open_key`` is unique
while the incident is open, and a losing writer retries and finds the winner's incident.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, event, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from checks._time import utc
from checks.result import CheckResult
from incidents.models import (
    AlertState,
    CheckResultRow,
    Incident,
    IncidentEvent,
    Notification,
    Remediation,
    Silence,
)
from incidents.policy import Action, AlertCounters, Decision, FiringRule, decide, incident_key

_RETRIES = 5


class IncidentNotFound(LookupError):
    """No incident with that id."""


@dataclass(frozen=True)
class Applied:
    """What applying one result did: the decision and the incident it touched, if any."""

    decision: Decision
    incident_id: int | None
    key: str

    @property
    def action(self) -> Action:
        return self.decision.action


@dataclass(frozen=True)
class InhibitionRule:
    source: str
    targets: tuple[str, ...]


def absolute_sqlite(url: str) -> str:
    """Pin a relative SQLite path to the current directory, so pooled connections and
    caches keyed by URL never point at a different file after a chdir."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return url
    path = Path(parsed.database)
    if path.is_absolute():
        return url
    return parsed.set(database=str(path.resolve())).render_as_string(hide_password=False)


def make_engine(url: str, *, durable: bool = True) -> Engine:
    """An engine with the settings mlwatch relies on for each backend.

    ``durable=False`` (throwaway SQLite stores such as backtests) skips fsync.
    """
    if url.startswith("sqlite"):
        url = absolute_sqlite(url)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            if not durable:
                cursor.execute("PRAGMA synchronous=OFF")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    """Transactions over the mlwatch tables. Construct with ``open_store`` to migrate first."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ results and policy
    def apply(
        self,
        result: CheckResult,
        rule: FiringRule,
        *,
        inhibit: tuple[InhibitionRule, ...] = (),
        flow_run_id: str | None = None,
        flow_run_url: str | None = None,
    ) -> Applied:
        """Record a result, decide with the policy, and apply the decision atomically."""
        key = incident_key(result.model, result.alert, result.labels)
        for attempt in range(_RETRIES):
            try:
                with self.session() as session:
                    return self._apply_once(
                        session, key, result, rule, inhibit, flow_run_id, flow_run_url
                    )
            except (IntegrityError, OperationalError):
                # Another evaluator opened the key (or created its state) first; try again
                # and find its incident. OperationalError covers Postgres serialisation and
                # SQLite lock timeouts under heavy contention.
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _apply_once(
        self,
        session: Session,
        key: str,
        result: CheckResult,
        rule: FiringRule,
        inhibit: tuple[InhibitionRule, ...],
        flow_run_id: str | None,
        flow_run_url: str | None,
    ) -> Applied:
        now = utc(result.evaluated_at)
        state = session.get(AlertState, key)
        if state is None:
            state = AlertState(key=key, model=result.model, alert=result.alert)
            session.add(state)
            session.flush()
        counters = AlertCounters(
            state.consecutive_breaches or 0, state.consecutive_ok or 0, state.pending_since
        )
        incident = session.scalar(select(Incident).where(Incident.open_key == key))
        silence = self._matching_silence(session, result.model, result.alert, now)
        root = self._inhibiting_incident(session, result.model, result.alert, inhibit)
        decision = decide(
            result,
            counters,
            incident.id if incident else None,
            rule,
            silence_id=silence.id if silence else None,
            inhibited_by=root.id if root else None,
        )
        state.consecutive_breaches = decision.counters.consecutive_breaches
        state.consecutive_ok = decision.counters.consecutive_ok
        state.pending_since = decision.counters.pending_since
        state.last_status = result.status.value
        state.last_evaluated_at = now

        incident_id = incident.id if incident else None
        if decision.action is Action.OPEN:
            incident = self._open(session, key, result, now, decision, flow_run_url)
            incident_id = incident.id
        elif decision.action is Action.UPDATE and incident is not None:
            incident.last_breach_at = now
            incident.breach_count += 1
            incident.value = result.value
            self._event(session, incident.id, now, "breach", result.summary,
                        data={"value": result.value})
        elif decision.action is Action.RESOLVE and incident is not None:
            self._resolve(session, incident, now, "mlwatch", decision.reason)
        elif decision.action is Action.INHIBITED and root is not None:
            self._event(session, root.id, now, "grouped",
                        f"{result.alert} breach grouped under this incident: {result.summary}",
                        data={"alert": result.alert, "value": result.value})
            incident_id = root.id
        session.add(
            CheckResultRow(
                model=result.model,
                alert=result.alert,
                key=key,
                status=result.status.value,
                value=result.value,
                threshold=result.threshold,
                window_s=result.window.total_seconds() if result.window else None,
                evaluated_at=now,
                summary=result.summary,
                details=_jsonable(result.details),
                decision=decision.action.value,
                incident_id=incident_id,
                flow_run_id=flow_run_id,
            )
        )
        return Applied(decision, incident_id, key)

    def _open(
        self,
        session: Session,
        key: str,
        result: CheckResult,
        now: datetime,
        decision: Decision,
        flow_run_url: str | None,
    ) -> Incident:
        previous = session.scalar(
            select(Incident).where(Incident.key == key).order_by(Incident.id.desc()).limit(1)
        )
        incident = Incident(
            key=key,
            open_key=key,
            model=result.model,
            alert=result.alert,
            labels=dict(result.labels),
            severity=result.severity,
            status="open",
            summary=result.summary,
            value=result.value,
            threshold=result.threshold,
            window_s=result.window.total_seconds() if result.window else None,
            opened_at=now,
            first_breach_at=decision.counters.pending_since or now,
            last_breach_at=now,
            previous_id=previous.id if previous else None,
            breach_count=decision.counters.consecutive_breaches,
            flow_run_url=flow_run_url,
        )
        session.add(incident)
        session.flush()  # raises IntegrityError if another evaluator won the race
        note = f"opened: {result.summary}"
        if previous is not None:
            note += f" (previous incident #{previous.id})"
        self._event(session, incident.id, now, "opened", note,
                    data={"value": result.value, "threshold": result.threshold})
        return incident

    # ------------------------------------------------------------------ lifecycle
    def acknowledge(self, incident_id: int, actor: str, now: datetime) -> Incident:
        with self.session() as session:
            incident = self._get(session, incident_id)
            if incident.status == "resolved":
                raise ValueError(f"incident #{incident_id} is already resolved")
            if incident.status == "open":
                incident.status = "acknowledged"
                incident.acknowledged_at = utc(now)
                incident.acknowledged_by = actor
                self._event(session, incident.id, utc(now), "acknowledged",
                            f"acknowledged by {actor}", actor=actor)
            return incident

    def resolve(self, incident_id: int, actor: str, now: datetime, reason: str) -> Incident:
        with self.session() as session:
            incident = self._get(session, incident_id)
            if incident.status != "resolved":
                self._resolve(session, incident, utc(now), actor, reason)
            return incident

    def _resolve(
        self, session: Session, incident: Incident, now: datetime, actor: str, reason: str
    ) -> None:
        incident.status = "resolved"
        incident.open_key = None
        incident.resolved_at = now
        incident.resolved_by = actor
        duration = now - utc(incident.opened_at)
        self._event(session, incident.id, now, "resolved", f"resolved by {actor}: {reason}",
                    actor=actor, data={"duration_s": duration.total_seconds()})

    def add_event(
        self,
        incident_id: int,
        kind: str,
        message: str,
        now: datetime,
        actor: str = "mlwatch",
        data: dict[str, Any] | None = None,
    ) -> None:
        with self.session() as session:
            self._event(session, incident_id, utc(now), kind, message, actor=actor, data=data)

    def set_fault_start(self, incident_id: int, started_at: datetime, actor: str,
                        now: datetime) -> Incident:
        """Record when the fault really began (from a postmortem), for MTTD."""
        with self.session() as session:
            incident = self._get(session, incident_id)
            incident.fault_started_at = utc(started_at)
            detect = utc(incident.opened_at) - utc(started_at)
            self._event(session, incident_id, utc(now), "fault_start",
                        f"fault began at {utc(started_at):%Y-%m-%d %H:%M} UTC "
                        f"(detected {detect} later)", actor=actor)
            return incident

    def escalate(self, incident_id: int, now: datetime) -> bool:
        """Mark an incident escalated once; returns False if it already was (or resolved).
        The caller adds the timeline event with the notice."""
        with self.session() as session:
            incident = self._get(session, incident_id)
            if incident.escalated_at is not None or incident.status == "resolved":
                return False
            incident.escalated_at = utc(now)
            return True

    @staticmethod
    def _event(
        session: Session,
        incident_id: int,
        now: datetime,
        kind: str,
        message: str,
        *,
        actor: str = "mlwatch",
        data: dict[str, Any] | None = None,
    ) -> None:
        session.add(IncidentEvent(incident_id=incident_id, at=now, kind=kind, actor=actor,
                                  message=message, data=_jsonable(data or {})))

    @staticmethod
    def _get(session: Session, incident_id: int) -> Incident:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise IncidentNotFound(f"no incident #{incident_id}; see `mlwatch incidents list`")
        return incident

    # ------------------------------------------------------------------ queries
    def incident(self, incident_id: int) -> Incident:
        with self.session() as session:
            incident = self._get(session, incident_id)
            _ = list(incident.events)  # load the timeline before the session closes
            return incident

    def incidents(
        self, *, status: str | None = None, model: str | None = None, limit: int = 100
    ) -> list[Incident]:
        with self.session() as session:
            query = select(Incident).order_by(Incident.id.desc()).limit(limit)
            if status == "active":
                query = query.where(Incident.status != "resolved")
            elif status:
                query = query.where(Incident.status == status)
            if model:
                query = query.where(Incident.model == model)
            return list(session.scalars(query))

    def open_incident(self, model: str, alert: str, labels: dict[str, str] | None = None
                      ) -> Incident | None:
        key = incident_key(model, alert, labels)
        with self.session() as session:
            return session.scalar(select(Incident).where(Incident.open_key == key))

    def last_evaluated(self, keys: list[str]) -> dict[str, datetime]:
        """When each key was last evaluated (keys never evaluated are absent)."""
        with self.session() as session:
            rows = session.scalars(select(AlertState).where(AlertState.key.in_(keys)))
            return {r.key: utc(r.last_evaluated_at) for r in rows if r.last_evaluated_at}

    def results(self, *, model: str | None = None, alert: str | None = None, limit: int = 50
                ) -> list[CheckResultRow]:
        with self.session() as session:
            query = select(CheckResultRow).order_by(CheckResultRow.id.desc()).limit(limit)
            if model:
                query = query.where(CheckResultRow.model == model)
            if alert:
                query = query.where(CheckResultRow.alert == alert)
            return list(session.scalars(query))

    @staticmethod
    def _inhibiting_incident(
        session: Session, model: str, alert: str, rules: tuple[InhibitionRule, ...]
    ) -> Incident | None:
        sources = [rule.source for rule in rules if alert in rule.targets]
        if not sources:
            return None
        return session.scalar(
            select(Incident)
            .where(Incident.model == model, Incident.alert.in_(sources),
                   Incident.open_key.is_not(None))
            .order_by(Incident.id)
            .limit(1)
        )

    # ------------------------------------------------------------------ silences
    def add_silence(
        self,
        *,
        model: str | None,
        alert: str | None,
        starts_at: datetime,
        duration: timedelta,
        reason: str,
        created_by: str = "cli",
    ) -> Silence:
        if not reason.strip():
            raise ValueError("a silence needs a --reason so the next responder knows why")
        with self.session() as session:
            silence = Silence(model=model, alert=alert, starts_at=utc(starts_at),
                              ends_at=utc(starts_at) + duration, reason=reason,
                              created_by=created_by)
            session.add(silence)
            session.flush()
            return silence

    def silences(self, now: datetime, *, include_expired: bool = False) -> list[Silence]:
        with self.session() as session:
            query = select(Silence).order_by(Silence.id)
            if not include_expired:
                query = query.where(Silence.ends_at > utc(now))
            return list(session.scalars(query))

    def expire_silence(self, silence_id: int, now: datetime) -> Silence:
        with self.session() as session:
            silence = session.get(Silence, silence_id)
            if silence is None:
                raise LookupError(f"no silence #{silence_id}; see `mlwatch silence list`")
            silence.ends_at = min(utc(silence.ends_at), utc(now))
            return silence

    @staticmethod
    def _matching_silence(session: Session, model: str, alert: str, now: datetime
                          ) -> Silence | None:
        return session.scalar(
            select(Silence)
            .where(
                Silence.starts_at <= now,
                Silence.ends_at > now,
                or_(Silence.model.is_(None), Silence.model == model),
                or_(Silence.alert.is_(None), Silence.alert == alert),
            )
            .limit(1)
        )

    # ------------------------------------------------------------------ outbox
    def enqueue_notice(
        self, incident_id: int, kind: str, text: str, payload: dict[str, Any], now: datetime
    ) -> int:
        with self.session() as session:
            row = Notification(incident_id=incident_id, kind=kind, text=text,
                               payload=_jsonable(payload), created_at=utc(now))
            session.add(row)
            session.flush()
            return row.id

    def pending_notices(self) -> list[Notification]:
        with self.session() as session:
            return list(session.scalars(
                select(Notification).where(Notification.status != "sent")
                .order_by(Notification.id)
            ))

    def mark_notice_attempt(self, notice_id: int) -> None:
        with self.session() as session:
            row = session.get(Notification, notice_id)
            assert row is not None
            row.attempts += 1

    def mark_notice_sent(self, notice_id: int, channel: str | None, ts: str | None,
                         now: datetime) -> None:
        with self.session() as session:
            row = session.get(Notification, notice_id)
            assert row is not None
            row.status, row.channel, row.ts, row.sent_at = "sent", channel, ts, utc(now)
            row.last_error = None
            if row.kind == "root" and ts:
                incident = session.get(Incident, row.incident_id)
                assert incident is not None
                incident.slack_channel, incident.slack_ts = channel, ts

    def mark_notice_failed(self, notice_id: int, error: str) -> None:
        with self.session() as session:
            row = session.get(Notification, notice_id)
            assert row is not None
            row.status, row.last_error = "failed", error[:2000]

    # ------------------------------------------------------------------ remediations
    def start_remediation(self, *, incident_id: int | None, model: str, action: str, mode: str,
                          status: str, now: datetime, detail: str = "",
                          flow_run_id: str | None = None) -> int:
        with self.session() as session:
            row = Remediation(incident_id=incident_id, model=model, action=action, mode=mode,
                              status=status, started_at=utc(now), detail=detail,
                              flow_run_id=flow_run_id)
            session.add(row)
            session.flush()
            return row.id

    def finish_remediation(self, remediation_id: int, status: str, now: datetime, detail: str,
                           *, from_version: str | None = None, to_version: str | None = None
                           ) -> None:
        with self.session() as session:
            row = session.get(Remediation, remediation_id)
            assert row is not None
            row.status, row.finished_at, row.detail = status, utc(now), detail
            row.from_version = from_version or row.from_version
            row.to_version = to_version or row.to_version

    def remediations(self, *, model: str | None = None, incident_id: int | None = None
                     ) -> list[Remediation]:
        with self.session() as session:
            query = select(Remediation).order_by(Remediation.id)
            if model:
                query = query.where(Remediation.model == model)
            if incident_id is not None:
                query = query.where(Remediation.incident_id == incident_id)
            return list(session.scalars(query))

    def mark_interrupted_remediations(self, now: datetime) -> list[int]:
        """Remediations left running by a crash are marked interrupted, never rerun blindly."""
        with self.session() as session:
            rows = list(session.scalars(
                select(Remediation).where(Remediation.status.in_(("running", "requested")))
            ))
            for row in rows:
                row.status = "interrupted"
                row.finished_at = utc(now)
                row.detail = (row.detail + " | interrupted: the process stopped mid-way; "
                              "check the model registry before acting again").strip(" |")
                if row.incident_id:
                    self._event(session, row.incident_id, utc(now), "remediation",
                                f"{row.action} #{row.id} was interrupted by a restart; "
                                "not rerun automatically")
            return [row.id for row in rows]


def _jsonable(value: Any) -> Any:
    """Make details JSON-safe (numpy scalars, datetimes, NaN) for the JSON columns."""
    import math

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
