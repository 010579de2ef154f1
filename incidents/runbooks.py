"""Runbooks: ``runbooks/<alert>.md``, front matter read by code, body read by humans."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

RUNBOOK_DIR = Path(__file__).resolve().parent.parent / "runbooks"
SECTIONS = (
    "What it means",
    "Impact",
    "Diagnose",
    "Mitigate",
    "Roll back",
    "Verify recovery",
    "Root cause follow-up",
    "Escalate",
)
FRONT_MATTER_KEYS = ("alert", "severity", "owner", "remediation", "diagnostics")


class RunbookError(ValueError):
    """A runbook is missing or malformed."""


@dataclass(frozen=True)
class Runbook:
    alert: str
    meta: dict[str, Any]
    sections: dict[str, str]
    path: Path
    body: str = field(repr=False, default="")

    def first_steps(self, n: int = 3) -> list[str]:
        """The first diagnostic steps, for the Slack notice."""
        steps = re.findall(r"^\s*(?:\d+\.|[-*])\s+(.*)$", self.sections.get("Diagnose", ""),
                           flags=re.MULTILINE)
        return steps[:n]

    def link(self, base_url: str | None) -> str:
        if base_url:
            return f"{base_url.rstrip('/')}/{self.alert}.md"
        return f"runbooks/{self.alert}.md (or `mlwatch runbook {self.alert}`)"


def parse_runbook(text: str, path: Path) -> Runbook:
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, flags=re.DOTALL)
    if not match:
        raise RunbookError(f"{path}: front matter between '---' lines is missing")
    meta = yaml.safe_load(match.group(1)) or {}
    missing = [k for k in FRONT_MATTER_KEYS if k not in meta]
    if missing:
        raise RunbookError(f"{path}: front matter lacks {missing}")
    body = match.group(2)
    parts = re.split(r"^## +(.+?)\s*$", body, flags=re.MULTILINE)
    sections = {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    absent = [s for s in SECTIONS if s not in sections]
    if absent:
        raise RunbookError(f"{path}: missing section(s) {absent}")
    return Runbook(str(meta["alert"]), meta, sections, path, body)


@lru_cache(maxsize=64)
def load_runbook(alert: str, directory: Path = RUNBOOK_DIR) -> Runbook:
    path = directory / f"{alert}.md"
    if not path.exists():
        known = sorted(p.stem for p in directory.glob("*.md"))
        raise RunbookError(f"no runbook for alert {alert!r}; known: {', '.join(known)}")
    return parse_runbook(path.read_text(), path)
