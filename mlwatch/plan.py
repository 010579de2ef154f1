"""Which checks run together: one Prefect deployment per model and check group."""

from __future__ import annotations

from datetime import timedelta

from mlwatch.config import ModelConfig

CHECK_GROUPS: dict[str, tuple[str, ...]] = {
    "serving": ("error_rate_spike", "latency_spike", "deployment_failure",
                "model_load_failure"),
    "batch": ("data_quality", "data_drift", "prediction_shift", "accuracy_drop"),
    "pipeline": ("pipeline_delay",),
}
GROUP_OF = {alert: group for group, alerts in CHECK_GROUPS.items() for alert in alerts}


def group_checks(model: ModelConfig, group: str) -> dict[str, object]:
    """The enabled checks of ``model`` in ``group``, by alert name."""
    if group not in CHECK_GROUPS:
        raise ValueError(f"unknown check group {group!r}; use one of {sorted(CHECK_GROUPS)}")
    enabled = model.checks.enabled()
    return {alert: enabled[alert] for alert in CHECK_GROUPS[group] if alert in enabled}


def model_groups(model: ModelConfig) -> dict[str, timedelta]:
    """Each group that has checks, with its cadence (the most frequent check in it)."""
    groups = {}
    for group in CHECK_GROUPS:
        checks = group_checks(model, group)
        if checks:
            groups[group] = min(check.every for check in checks.values())  # type: ignore[attr-defined]
    return groups
