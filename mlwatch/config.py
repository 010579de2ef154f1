"""Typed configuration (one YAML file), validated by pydantic with errors that name the key path."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from checks._time import parse_duration
from mlwatch.errors import ConfigError

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

ALERTS = (
    "error_rate_spike",
    "latency_spike",
    "data_drift",
    "prediction_shift",
    "accuracy_drop",
    "pipeline_delay",
    "model_load_failure",
    "deployment_failure",
    "data_quality",
    "monitor_failure",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    """Where one role's data lives: a SQLAlchemy URL + table/query, or a Parquet/CSV path.

    ``columns`` maps mlwatch's role names (id, timestamp, ...) to the user's column names.
    """

    url: str | None = None
    table: str | None = None
    query: str | None = None
    path: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_location(self) -> SourceConfig:
        if self.path and (self.url or self.table or self.query):
            raise ValueError("give either 'path' or 'url' with 'table'/'query', not both")
        if not self.path and not self.url:
            raise ValueError("give 'path' (Parquet/CSV) or 'url' with 'table' or 'query'")
        if self.url and not (self.table or self.query):
            raise ValueError("'url' needs 'table' or 'query'")
        return self


class SourcesConfig(_Strict):
    predictions: SourceConfig | None = None
    labels: SourceConfig | None = None
    reference: SourceConfig | None = None
    serving: SourceConfig | None = None
    pipeline_runs: SourceConfig | None = None
    deployments: SourceConfig | None = None


class _CheckBase(_Strict):
    every: Duration = timedelta(hours=1)
    enabled: bool = True
    severity: Literal["page", "ticket"] = "page"
    for_evaluations: int = Field(1, ge=1, description="consecutive breaches before firing")
    resolve_after: int = Field(2, ge=1, description="healthy evaluations before auto-resolve")


class DaskSettings(_Strict):
    """Run the drift check on a Dask cluster (needs the ``dask`` extra: prefect-dask)."""

    address: str | None = Field(None, description="scheduler address; None starts a local one")
    n_workers: int = Field(2, ge=1)
    column_chunks: int = Field(4, ge=1, description="tasks per batch, columns split evenly")


class DataDriftCheck(_CheckBase):
    window: Duration = timedelta(hours=6)
    dask: DaskSettings | None = None
    threshold: float | None = Field(None, gt=0)
    drift_share: float = Field(0.5, gt=0, le=1)
    methods: dict[str, Literal["wasserstein", "jensenshannon", "ks", "chisquare", "z", "psi"]] = (
        Field(default_factory=dict)
    )
    min_rows: int = Field(100, ge=1)


class PredictionShiftCheck(_CheckBase):
    window: Duration = timedelta(hours=6)
    threshold: float | None = Field(None, gt=0)
    min_rows: int = Field(100, ge=1)


class AccuracyDropCheck(_CheckBase):
    window: Duration = timedelta(hours=6)
    metric: Literal["accuracy", "f1", "precision", "recall", "roc_auc", "mae", "rmse"] = "accuracy"
    min: float | None = None
    max: float | None = None
    label_delay: Duration = timedelta(hours=24)
    min_labels: int = Field(200, ge=1)
    min_coverage: float = Field(0.8, gt=0, le=1)
    confidence: float = Field(0.95, gt=0.5, lt=1)

    @model_validator(mode="after")
    def _bound(self) -> AccuracyDropCheck:
        if self.min is None and self.max is None:
            raise ValueError("set 'min' (for accuracy-like metrics) or 'max' (for mae/rmse)")
        return self


class PipelineDelayCheck(_CheckBase):
    every: Duration = timedelta(minutes=5)
    pipeline: str | None = None
    cadence: Duration = timedelta(hours=1)
    max_delay: Duration = timedelta(minutes=30)


class ErrorRateCheck(_CheckBase):
    every: Duration = timedelta(minutes=1)
    objective: float = Field(0.99, gt=0, lt=1)
    # [long, short, burn-rate factor]: a 15m/5m fast-burn rule, then the SRE workbook's
    # page rules (1h/5m at 14.4x, 6h/30m at 6x).
    windows: list[tuple[Duration, Duration, float]] = Field(
        default_factory=lambda: [
            (timedelta(minutes=15), timedelta(minutes=5), 14.4),
            (timedelta(hours=1), timedelta(minutes=5), 14.4),
            (timedelta(hours=6), timedelta(minutes=30), 6.0),
        ]
    )
    min_requests: int = Field(20, ge=1)

    @field_validator("windows", mode="before")
    @classmethod
    def _default_factor(cls, value: Any) -> Any:
        # Accept [long, short] pairs: the factor then defaults to 14.4.
        if isinstance(value, list):
            return [list(w) + [14.4] if isinstance(w, list | tuple) and len(w) == 2 else w
                    for w in value]
        return value


class LatencyCheck(_CheckBase):
    every: Duration = timedelta(minutes=1)
    percentile: float = Field(95, gt=0, lt=100)
    threshold_ms: float = Field(500, gt=0)
    long_window: Duration = timedelta(hours=1)
    short_window: Duration = timedelta(minutes=5)
    min_requests: int = Field(20, ge=1)


class DeploymentFailureCheck(_CheckBase):
    every: Duration = timedelta(minutes=1)
    window: Duration = timedelta(hours=1)


class DataQualityCheck(_CheckBase):
    window: Duration = timedelta(hours=1)
    max_missing_share: float = Field(0.05, ge=0, le=1)
    max_future_skew: Duration = timedelta(minutes=5)


class ChecksConfig(_Strict):
    data_drift: DataDriftCheck | None = None
    prediction_shift: PredictionShiftCheck | None = None
    accuracy_drop: AccuracyDropCheck | None = None
    pipeline_delay: PipelineDelayCheck | None = None
    error_rate_spike: ErrorRateCheck | None = None
    latency_spike: LatencyCheck | None = None
    deployment_failure: DeploymentFailureCheck | None = None
    model_load_failure: DeploymentFailureCheck | None = None
    data_quality: DataQualityCheck | None = None

    def enabled(self) -> dict[str, _CheckBase]:
        return {
            name: check
            for name in type(self).model_fields
            if (check := getattr(self, name)) is not None and check.enabled
        }


class RemediationRule(_Strict):
    """Which remediation an alert triggers and how much a person must be involved."""

    action: Literal["rollback", "retrain", "none"]
    mode: Literal["auto", "approve", "off"] = "auto"
    dry_run: bool = False
    cooldown: Duration = timedelta(hours=1)
    verify_within: Duration = timedelta(hours=1)
    approval_timeout: Duration = Field(
        timedelta(hours=1), description="real time a paused remediation waits for approval"
    )


class TrainingConfig(_Strict):
    """How the retrain remediation builds and judges a challenger."""

    trainer: str = Field(pattern=r"^[\w.]+:\w+$", description="module:function")
    window: Duration = timedelta(hours=24)
    min_rows: int = Field(500, ge=10)
    holdout: float = Field(0.25, gt=0, lt=1)
    metric: Literal["accuracy", "f1", "roc_auc"] = "accuracy"
    margin: float = Field(0.01, ge=0)


def _rule(value: Any) -> Any:
    return {"action": value} if isinstance(value, str) else value


RemediationValue = Annotated[RemediationRule, BeforeValidator(_rule)]


class ModelConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    owner: str = "@ml-oncall"
    task: Literal["classification", "regression"] = "classification"
    features: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    sources: SourcesConfig = SourcesConfig()
    checks: ChecksConfig = ChecksConfig()
    remediation: dict[str, RemediationValue] = Field(default_factory=dict)
    training: TrainingConfig | None = None

    @field_validator("remediation")
    @classmethod
    def _known_alerts(cls, value: dict[str, RemediationRule]) -> dict[str, RemediationRule]:
        unknown = sorted(set(value) - set(ALERTS))
        if unknown:
            raise ValueError(f"unknown alert(s) {unknown}; allowed: {', '.join(ALERTS)}")
        return value


class SlackConfig(_Strict):
    channel: str = "#ml-incidents"
    token_env: str = "SLACK_BOT_TOKEN"
    signing_secret_env: str = "SLACK_SIGNING_SECRET"
    base_url: str | None = None
    notices_file: str = "notices.log"
    ui_url: str = "http://127.0.0.1:4200"
    runbook_base_url: str | None = None


class InhibitRule(_Strict):
    """While ``source`` is open for a model, breaches of ``targets`` are recorded, not paged."""

    source: str
    targets: list[str]


def _default_inhibit() -> list[InhibitRule]:
    consequences = ["data_drift", "prediction_shift", "accuracy_drop"]
    return [
        InhibitRule(source="pipeline_delay", targets=consequences),
        InhibitRule(source="data_quality", targets=consequences),
        InhibitRule(source="deployment_failure", targets=["error_rate_spike", "latency_spike"]),
        InhibitRule(source="model_load_failure", targets=["error_rate_spike", "latency_spike"]),
    ]


class PolicyConfig(_Strict):
    inhibit: list[InhibitRule] = Field(default_factory=_default_inhibit)
    monitor_failures_before_incident: int = Field(3, ge=1)


class DemoConfig(_Strict):
    """The demo world: a simulated production system with an accelerated clock."""

    enabled: bool = False
    speed: float = Field(60.0, gt=0, description="simulated seconds per real second")
    seed: int = 7
    requests_per_minute: int = Field(40, ge=1)
    tick: Duration = timedelta(minutes=1)
    fault_cycle: Duration = timedelta(hours=12)


class Settings(_Strict):
    """The whole mlwatch configuration."""

    store: str = "sqlite:///.mlwatch/mlwatch.db"
    state_dir: str = ".mlwatch"
    prefect_api_url: str = "http://127.0.0.1:4200/api"
    slack: SlackConfig = SlackConfig()
    policy: PolicyConfig = PolicyConfig()
    demo: DemoConfig = DemoConfig()
    models: list[ModelConfig] = Field(min_length=1)

    @field_validator("models")
    @classmethod
    def _unique_names(cls, value: list[ModelConfig]) -> list[ModelConfig]:
        names = [m.name for m in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique; repeated: {dupes}")
        return value

    def model(self, name: str) -> ModelConfig:
        for model in self.models:
            if model.name == name:
                return model
        raise ConfigError(
            f"no model named {name!r} in the config; known: {[m.name for m in self.models]}"
        )

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir)


ENV_OVERRIDES = {
    "MLWATCH_STORE_URL": ("store",),
    "MLWATCH_STATE_DIR": ("state_dir",),
    "MLWATCH_SLACK_CHANNEL": ("slack", "channel"),
    "MLWATCH_SLACK_BASE_URL": ("slack", "base_url"),
    "MLWATCH_PREFECT_API_URL": ("prefect_api_url",),
}


def _apply_env(raw: dict[str, Any]) -> dict[str, Any]:
    for var, path in ENV_OVERRIDES.items():
        value = os.environ.get(var)
        if not value:
            continue
        node = raw
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node.get(key), dict | None) else node
            if not isinstance(node, dict):
                break
        node[path[-1]] = value
    return raw


def _format_errors(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid configuration ({exc.error_count()} problem(s))"]
    for error in exc.errors():
        key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        key = key.lstrip(".") or "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key; remove it or check its spelling"
        elif error["type"] == "missing":
            message = "required key is missing"
        value = error.get("input")
        shown = "" if error["type"] == "missing" or isinstance(value, dict) else f" (got {value!r})"
        lines.append(f"  - {key}: {message}{shown}")
    return "\n".join(lines)


def _anchor(value: Any, base: Path) -> Any:
    """A relative file path or SQLite URL, made absolute against ``base``."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
        rest = value.removeprefix("sqlite:///")
        if rest and not rest.startswith(":memory:"):
            return f"sqlite:///{(base / rest).resolve()}"
        return value
    if "://" in value or Path(value).is_absolute():
        return value
    return str((base / value).resolve())


def _anchor_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative paths in a config file mean "next to the config file", wherever mlwatch
    runs (a worker's working directory is the code's checkout, not the config's)."""
    for key in ("store", "state_dir"):
        if key in raw:
            raw[key] = _anchor(raw[key], base)
    raw.setdefault("state_dir", _anchor(".mlwatch", base))
    raw.setdefault("store", f"sqlite:///{Path(raw['state_dir']) / 'mlwatch.db'}")
    for model in raw.get("models") or []:
        sources = model.get("sources") if isinstance(model, dict) else None
        for source in (sources or {}).values():
            if isinstance(source, dict):
                for key in ("url", "path"):
                    if key in source:
                        source[key] = _anchor(source[key], base)
    return raw


def parse_settings(raw: Any, source: Path = Path("<config>"), base: Path | None = None
                   ) -> Settings:
    """Validate a parsed YAML document; raise ConfigError naming each bad key path."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping with at least 'models'")
    raw = _apply_env(raw)
    if base is not None:
        raw = _anchor_paths(raw, base)
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from None


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read and validate a config file; relative state paths stay relative to the cwd."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"config file {file} does not exist; pass --config FILE or copy mlwatch.yaml"
        )
    try:
        raw = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", exc)
        raise ConfigError(f"{file}: not valid YAML{where}: {problem}") from None
    return parse_settings(raw, file, base=file.resolve().parent)
