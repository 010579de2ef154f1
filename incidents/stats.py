"""Incident statistics: counts, MTTA, MTTR and MTTD per model and alert."""

from __future__ import annotations

from collections import defaultdict
from statistics import mean
from typing import Any

from checks._time import utc
from incidents.models import Incident


def incident_stats(incidents: list[Incident]) -> list[dict[str, Any]]:
    """One row per (model, alert); times in seconds, None where nothing was measured."""
    groups: dict[tuple[str, str], list[Incident]] = defaultdict(list)
    for incident in incidents:
        groups[(incident.model, incident.alert)].append(incident)
    rows = []
    for (model, alert), items in sorted(groups.items()):
        tta = [(utc(i.acknowledged_at) - utc(i.opened_at)).total_seconds()
               for i in items if i.acknowledged_at]
        ttr = [(utc(i.resolved_at) - utc(i.opened_at)).total_seconds()
               for i in items if i.resolved_at]
        ttd = [(utc(i.opened_at) - utc(i.fault_started_at)).total_seconds()
               for i in items if i.fault_started_at]
        rows.append({
            "model": model, "alert": alert, "incidents": len(items),
            "open": sum(i.status != "resolved" for i in items),
            "pages": sum(i.severity == "page" for i in items),
            "mtta_s": mean(tta) if tta else None,
            "mttr_s": mean(ttr) if ttr else None,
            "mttd_s": mean(ttd) if ttd else None,
        })
    return rows
