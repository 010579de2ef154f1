"""Read the data contract's roles from SQL tables/queries or Parquet/CSV files.

Users map their column names to mlwatch's role names (``columns:`` in the config); what
comes back always uses the role names, filtered to the time range asked for.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

import pandas as pd
from sqlalchemy import DateTime, Engine, bindparam, column, select, table, text
from sqlalchemy.exc import SQLAlchemyError

from checks._time import as_utc_series, utc
from incidents.store import absolute_sqlite, make_engine
from mlwatch.config import SourceConfig
from mlwatch.db import redact
from mlwatch.errors import SourceError

# The role each source is filtered on, and the default user column name for each role.
TIME_ROLE = {
    "predictions": "timestamp",
    "labels": "labeled_at",
    "serving": "timestamp",
    "pipeline_runs": "finished_at",
    "deployments": "deployed_at",
    "reference": None,
}


@lru_cache(maxsize=32)
def _engine(url: str) -> Engine:
    return make_engine(url)


def read_source(
    source: SourceConfig,
    role: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Rows of one role with role-named columns, ``since < time <= until`` when given.

    ``columns`` (role names) reads only those columns (plus the time column) where the
    source can project: Parquet files and SQL tables.
    """
    rename = {user: mine for mine, user in source.columns.items()}
    time_role = TIME_ROLE.get(role)
    time_column = source.columns.get(time_role, time_role) if time_role else None
    wanted = None
    if columns is not None:
        wanted = [source.columns.get(c, c) for c in columns]
        if time_column and time_column not in wanted:
            wanted.append(time_column)
    if source.path:
        frame = _read_file(Path(source.path), role, wanted)
    else:
        frame = _read_sql(source, role, time_column, since, until, wanted)
    frame = frame.rename(columns=rename)
    if time_role and time_role in frame.columns:
        stamps = as_utc_series(frame[time_role])
        mask = pd.Series(True, index=frame.index)
        if since is not None:
            mask &= stamps > pd.Timestamp(utc(since))
        if until is not None:
            mask &= stamps <= pd.Timestamp(utc(until))
        frame = frame[mask.to_numpy()].assign(**{time_role: stamps[mask]})
    return frame.reset_index(drop=True)


def _read_file(path: Path, role: str, columns: list[str] | None = None) -> pd.DataFrame:
    if not path.exists():
        raise SourceError(f"{role} source file {path} does not exist; fix 'path' in the config")
    try:
        if path.suffix in (".parquet", ".pq"):
            return pd.read_parquet(path, columns=columns)
        if path.suffix in (".csv", ".txt"):
            return pd.read_csv(path, usecols=columns)
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read {role} source {path}: {exc}") from None
    raise SourceError(f"{role} source {path}: use a .parquet or .csv file")


def _read_sql(source: SourceConfig, role: str, time_column: str | None,
              since: datetime | None, until: datetime | None,
              columns: list[str] | None = None) -> pd.DataFrame:
    assert source.url is not None
    if source.query:
        statement = text(source.query)
        params: dict[str, object] = {}
    else:
        assert source.table is not None
        projection = [column(c) for c in columns] if columns else [text("*")]
        statement = select(*projection).select_from(table(source.table))
        params = {}
        stamp = DateTime()
        if time_column and since is not None:
            statement = statement.where(column(time_column) > bindparam("since", type_=stamp))
            params["since"] = _naive(since)
        if time_column and until is not None:
            statement = statement.where(column(time_column) <= bindparam("until", type_=stamp))
            params["until"] = _naive(until)
    try:
        with _engine(absolute_sqlite(source.url)).connect() as connection:
            frame = pd.read_sql(statement, connection, params=params)
        return frame[columns] if columns and source.query else frame
    except (SQLAlchemyError, pd.errors.DatabaseError) as exc:
        # pandas wraps the driver's error; report the driver's own words.
        cause = exc.__cause__ if isinstance(exc, pd.errors.DatabaseError) and exc.__cause__ \
            else exc
        reason = str(getattr(cause, "orig", None) or cause).strip().splitlines()[0]
        what = source.table or "query"
        raise SourceError(
            f"cannot read {role} from {what} at {redact(source.url)}: {reason}"
        ) from None


def _naive(moment: datetime) -> datetime:
    """UTC without tzinfo: how SQLAlchemy's DateTime stores timestamps on SQLite."""
    return utc(moment).replace(tzinfo=None)
