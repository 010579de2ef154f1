"""Tables of the demo production system (``.mlwatch/demo.db``), in the data contract's shape."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table

from mlwatch.demo.model import FEATURES

metadata = MetaData()

predictions = Table(
    "predictions", metadata,
    Column("prediction_id", String(40), primary_key=True),
    Column("ts", DateTime, index=True),
    Column("model_version", String(40)),
    *[Column(name, Float) for name in FEATURES],
    Column("channel", String(20)),
    Column("prediction", Integer),
    Column("score", Float),
)
labels_pending = Table(
    "labels_pending", metadata,
    Column("prediction_id", String(40), primary_key=True),
    Column("label", Integer),
    Column("labeled_at", DateTime, index=True),
)
labels = Table(
    "labels", metadata,
    Column("prediction_id", String(40), primary_key=True),
    Column("label", Integer),
    Column("labeled_at", DateTime, index=True),
)
serving_events = Table(
    "serving_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", DateTime, index=True),
    Column("status", String(10)),
    Column("latency_ms", Float),
    Column("model_version", String(40)),
)
pipeline_runs = Table(
    "pipeline_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pipeline", String(60)),
    Column("started_at", DateTime),
    Column("finished_at", DateTime, index=True),
    Column("status", String(20)),
)
deployments = Table(
    "deployments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_version", String(40)),
    Column("deployed_at", DateTime, index=True),
    Column("status", String(20)),
    Column("error", String(200)),
)
demo_meta = Table(
    "demo_meta", metadata,
    Column("key", String(40), primary_key=True),
    Column("value", String(200)),
)
