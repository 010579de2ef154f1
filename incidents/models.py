"""SQLAlchemy 2.x tables of the mlwatch store. Alembic migrations in mlwatch/migrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class CheckResultRow(Base):
    """Every evaluation, breach or not: the history that backtests and stats read."""

    __tablename__ = "check_results"
    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    alert: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(32))
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    window_s: Mapped[float | None] = mapped_column(Float)
    evaluated_at: Mapped[datetime]
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    decision: Mapped[str | None] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (Index("ix_check_results_key_time", "key", "evaluated_at"),)


class AlertState(Base):
    """Per key (model, alert, labels): the running counters the firing policy needs."""

    __tablename__ = "alert_states"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    alert: Mapped[str] = mapped_column(String(64))
    consecutive_breaches: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_ok: Mapped[int] = mapped_column(Integer, default=0)
    pending_since: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(32))
    last_evaluated_at: Mapped[datetime | None]


class Incident(Base):
    """One incident per key while open; ``open_key`` is unique and cleared on resolution."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400), index=True)
    open_key: Mapped[str | None] = mapped_column(String(400), unique=True)
    model: Mapped[str] = mapped_column(String(200))
    alert: Mapped[str] = mapped_column(String(64))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    severity: Mapped[str] = mapped_column(String(16), default="page")
    status: Mapped[str] = mapped_column(String(16), default="open")
    summary: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    window_s: Mapped[float | None] = mapped_column(Float)
    opened_at: Mapped[datetime]
    first_breach_at: Mapped[datetime | None]
    last_breach_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    fault_started_at: Mapped[datetime | None]
    suppressed_by: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    breach_count: Mapped[int] = mapped_column(Integer, default=1)
    escalated_at: Mapped[datetime | None]
    flow_run_url: Mapped[str | None] = mapped_column(String(500))
    slack_channel: Mapped[str | None] = mapped_column(String(200))
    slack_ts: Mapped[str | None] = mapped_column(String(64))
    events: Mapped[list[IncidentEvent]] = relationship(
        back_populates="incident",
        order_by="IncidentEvent.id",
        foreign_keys="IncidentEvent.incident_id",
    )


class IncidentEvent(Base):
    """The incident's timeline: every transition and observation, with actor and time."""

    __tablename__ = "incident_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200), default="mlwatch")
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    incident: Mapped[Incident] = relationship(back_populates="events", foreign_keys=[incident_id])


class Notification(Base):
    """The Slack outbox: a notice is recorded before it is sent, and sent in order."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # root | update | reply
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(200))
    ts: Mapped[str | None] = mapped_column(String(64))


class Remediation(Base):
    """A remediation attempt and its outcome, one row per run of a remediation subflow."""

    __tablename__ = "remediations"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    model: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    detail: Mapped[str] = mapped_column(Text, default="")
    from_version: Mapped[str | None] = mapped_column(String(100))
    to_version: Mapped[str | None] = mapped_column(String(100))
    flow_run_id: Mapped[str | None] = mapped_column(String(64))


class ModelVersion(Base):
    """A registered model version with its training metadata."""

    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100))
    trained_at: Mapped[datetime | None]
    training_start: Mapped[datetime | None]
    training_end: Mapped[datetime | None]
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    artifact: Mapped[str | None] = mapped_column(String(500))
    registered_at: Mapped[datetime]
    known_bad: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (UniqueConstraint("model", "version"),)


class ModelAlias(Base):
    """``champion`` / ``previous`` pointers: what serving reads."""

    __tablename__ = "model_aliases"
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    alias: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime]


class Silence(Base):
    """A maintenance window: matching breaches are recorded but not notified."""

    __tablename__ = "silences"
    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str | None] = mapped_column(String(200))
    alert: Mapped[str | None] = mapped_column(String(64))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200), default="cli")
