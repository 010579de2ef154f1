"""Model registry: versions with training metadata and the ``champion``/``previous`` aliases.

Stored in the mlwatch store; the ``ModelRegistry`` protocol is small enough for an MLflow
registry to implement later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select

from checks._time import utc
from incidents.models import ModelAlias, ModelVersion
from incidents.store import Store
from mlwatch.errors import MlwatchError

CHAMPION, PREVIOUS = "champion", "previous"


class RegistryError(MlwatchError):
    """A registry operation is impossible (unknown version, nothing to roll back to)."""


@dataclass(frozen=True)
class VersionInfo:
    model: str
    version: str
    trained_at: datetime | None
    registered_at: datetime
    metrics: dict[str, Any] = field(default_factory=dict)
    artifact: str | None = None
    known_bad: bool = False
    training_start: datetime | None = None
    training_end: datetime | None = None


def load_artifact(info: VersionInfo) -> Any:
    """Load a version's model from its artifact location (a local pickle here)."""
    import pickle
    from pathlib import Path

    if not info.artifact or not Path(info.artifact).exists():
        raise RegistryError(f"{info.model} {info.version}: artifact {info.artifact!r} is missing")
    return pickle.loads(Path(info.artifact).read_bytes())


class ModelRegistry(Protocol):
    def register(self, info: VersionInfo) -> None: ...
    def alias(self, model: str, alias: str) -> str | None: ...
    def promote(self, model: str, version: str, now: datetime) -> str | None: ...
    def rollback_target(self, model: str) -> VersionInfo: ...
    def mark_bad(self, model: str, version: str) -> None: ...
    def versions(self, model: str) -> list[VersionInfo]: ...


class StoreRegistry:
    """The registry inside the mlwatch store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def register(self, info: VersionInfo) -> None:
        with self.store.session() as session:
            existing = session.scalar(select(ModelVersion).where(
                ModelVersion.model == info.model, ModelVersion.version == info.version))
            if existing is not None:
                return
            session.add(ModelVersion(
                model=info.model, version=info.version, trained_at=info.trained_at,
                training_start=info.training_start, training_end=info.training_end,
                metrics=info.metrics, artifact=info.artifact,
                registered_at=utc(info.registered_at), known_bad=int(info.known_bad)))

    def alias(self, model: str, alias: str) -> str | None:
        with self.store.session() as session:
            row = session.get(ModelAlias, (model, alias))
            return row.version if row else None

    def promote(self, model: str, version: str, now: datetime) -> str | None:
        """Make ``version`` the champion; the old champion becomes ``previous``."""
        with self.store.session() as session:
            if session.scalar(select(ModelVersion).where(
                    ModelVersion.model == model, ModelVersion.version == version)) is None:
                raise RegistryError(f"{model} has no version {version!r}; register it first")
            champion = session.get(ModelAlias, (model, CHAMPION))
            old = champion.version if champion else None
            if old == version:
                return old
            if champion is None:
                session.add(ModelAlias(model=model, alias=CHAMPION, version=version,
                                       updated_at=utc(now)))
            else:
                champion.version, champion.updated_at = version, utc(now)
            if old is not None:
                session.merge(ModelAlias(model=model, alias=PREVIOUS, version=old,
                                         updated_at=utc(now)))
            return old

    def rollback_target(self, model: str) -> VersionInfo:
        """The last known-good version registered before the current champion."""
        champion = self.alias(model, CHAMPION)
        if champion is None:
            raise RegistryError(f"{model} has no champion to roll back from")
        versions = self.versions(model)
        current = next(v for v in versions if v.version == champion)
        candidates = [v for v in versions
                      if v.version != champion and not v.known_bad
                      and v.registered_at <= current.registered_at]
        if not candidates:
            raise RegistryError(
                f"{model} has no known-good version older than {champion}; "
                "roll forward with a fixed model instead"
            )
        return max(candidates, key=lambda v: v.registered_at)

    def mark_bad(self, model: str, version: str) -> None:
        with self.store.session() as session:
            row = session.scalar(select(ModelVersion).where(
                ModelVersion.model == model, ModelVersion.version == version))
            if row is not None:
                row.known_bad = 1

    def versions(self, model: str) -> list[VersionInfo]:
        with self.store.session() as session:
            rows = session.scalars(select(ModelVersion).where(ModelVersion.model == model)
                                   .order_by(ModelVersion.registered_at, ModelVersion.id))
            return [VersionInfo(r.model, r.version, r.trained_at and utc(r.trained_at),
                                utc(r.registered_at), dict(r.metrics or {}), r.artifact,
                                bool(r.known_bad), r.training_start, r.training_end)
                    for r in rows]
