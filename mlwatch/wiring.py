"""Build the policy, notifier and store objects from the settings: the one place that wires."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from incidents.notices import NoticeContext
from incidents.policy import FiringRule
from incidents.slack import ConsoleSender, NoticeSender, SlackSender
from incidents.store import InhibitionRule
from mlwatch.config import ModelConfig, Settings

SLACK_TOKEN_BLOCK = "mlwatch-slack-token"
SLACK_SIGNING_BLOCK = "mlwatch-slack-signing-secret"


def firing_rules(model: ModelConfig) -> dict[str, FiringRule]:
    rules = {alert: FiringRule(check.for_evaluations, check.resolve_after)  # type: ignore[attr-defined]
             for alert, check in model.checks.enabled().items()}
    rules["monitor_failure"] = FiringRule(1, 1)
    return rules


def inhibition_rules(settings: Settings) -> tuple[InhibitionRule, ...]:
    return tuple(InhibitionRule(r.source, tuple(r.targets)) for r in settings.policy.inhibit)


def notice_context(settings: Settings, model: ModelConfig) -> NoticeContext:
    return NoticeContext(ui_url=settings.slack.ui_url,
                         runbook_base_url=settings.slack.runbook_base_url, owner=model.owner)


def remediation_labels(model: ModelConfig) -> dict[str, str]:
    labels = {}
    for alert, rule in model.remediation.items():
        if rule.action == "none" or rule.mode == "off":
            continue
        labels[alert] = f"{rule.action} ({rule.mode}{', dry run' if rule.dry_run else ''})"
    return labels


def _secret(env_name: str, block_name: str) -> str | None:
    """A secret from its environment variable, else from a Prefect Secret block."""
    value = os.environ.get(env_name)
    if value:
        return value
    # Blocks live on a Prefect server; without one configured, do not start an ephemeral one.
    if not os.environ.get("PREFECT_API_URL") or os.environ.get("MLWATCH_SECRET_BLOCKS") == "0":
        return None
    try:
        from prefect.blocks.system import Secret

        return str(Secret.load(block_name).get())
    except Exception:  # noqa: BLE001 - no server, no block: the secret is simply not set
        return None


def slack_token(settings: Settings) -> str | None:
    return _secret(settings.slack.token_env, SLACK_TOKEN_BLOCK)


def signing_secret(settings: Settings) -> str | None:
    return _secret(settings.slack.signing_secret_env, SLACK_SIGNING_BLOCK)


def notices_path(settings: Settings) -> Path:
    path = Path(settings.slack.notices_file)
    return path if path.is_absolute() else settings.state_path / path


def make_sender(settings: Settings, *, console: bool = True) -> NoticeSender:
    """Slack when a token is configured; otherwise the console and ``notices.log``."""
    token = slack_token(settings)
    if token:
        return SlackSender(token, base_url=settings.slack.base_url)
    return ConsoleSender(notices_path(settings), stream=sys.stdout if console else None)
