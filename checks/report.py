"""The Evidently HTML drift report, for humans (on a sample for big batches)."""

from __future__ import annotations

import os

import pandas as pd

REPORT_SAMPLE_ROWS = 5000


def evidently_drift_html(reference: pd.DataFrame, current: pd.DataFrame, *,
                         numerical: list[str], categorical: list[str],
                         drift_share: float = 0.5, sample_rows: int = REPORT_SAMPLE_ROWS,
                         seed: int = 0) -> str:
    """Render Evidently's DataDriftPreset as standalone HTML."""
    os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = numerical + categorical
    ref = reference[columns]
    cur = current[columns]
    if len(ref) > sample_rows:
        ref = ref.sample(sample_rows, random_state=seed)
    if len(cur) > sample_rows:
        cur = cur.sample(sample_rows, random_state=seed)
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    snapshot = Report([DataDriftPreset(drift_share=drift_share)]).run(
        Dataset.from_pandas(cur.reset_index(drop=True), data_definition=definition),
        Dataset.from_pandas(ref.reset_index(drop=True), data_definition=definition),
    )
    return snapshot.get_html_str(as_iframe=False)
