"""mlwatch's drift engine against Evidently itself: same tests, same scores, same verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

from checks.drift import ReferenceProfile, detect_drift, wasserstein_sorted

BINNED = {"jensenshannon", "psi", "chisquare", "z"}


def evidently_verdicts(reference, current, numerical, categorical, **preset_kwargs):
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    report = Report([DataDriftPreset(**preset_kwargs)], include_tests=True)
    snapshot = report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    ).dict()
    scores = {}
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            scores[config["column"]] = (config["method"], float(metric["value"]), metric["id"])
    verdicts = {}
    for test in snapshot["tests"]:
        metric_id = test["metric_config"]["metric_id"]
        for column, (method, score, mid) in scores.items():
            if mid == metric_id:
                verdicts[column] = (method, score, test["status"] == "FAIL")
    share_test = next(t for t in snapshot["tests"] if t["id"] == "lt")
    return verdicts, share_test["status"] == "FAIL"


EVIDENTLY_NAMES = {
    "wasserstein": "Wasserstein distance (normed)",
    "jensenshannon": "Jensen-Shannon distance",
    "ks": "K-S p_value",
    "chisquare": "chi-square p_value",
    "z": "Z-test p_value",
    "psi": "PSI",
}


def make_data(n_ref: int, n_cur: int, seed: int, shift: float, nan_share: float = 0.0):
    rng = np.random.default_rng(seed)

    def frame(n: int, delta: float) -> pd.DataFrame:
        df = pd.DataFrame({
            "normal": rng.normal(delta, 1.0, n),
            "skewed": rng.lognormal(0.0 + delta / 2, 0.8, n),
            "rounded": np.round(rng.normal(50 + 10 * delta, 5, n)),
            "few_values": rng.integers(0, 4, n).astype(float),
            "binary_num": rng.integers(0, 2, n).astype(float),
            "city": rng.choice(["paris", "lyon", "nice", "lille"], n,
                               p=[0.4, 0.3, 0.2 - delta / 20, 0.1 + delta / 20]),
            "flag": rng.choice(["yes", "no"], n, p=[0.5 + delta / 10, 0.5 - delta / 10]),
        })
        if nan_share:
            for column in ("normal", "skewed", "city"):
                df.loc[rng.random(n) < nan_share, column] = np.nan
        return df

    return frame(n_ref, 0.0), frame(n_cur, shift)


NUMERICAL = ["normal", "skewed", "rounded", "few_values", "binary_num"]
CATEGORICAL = ["city", "flag"]


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "seed", "shift", "nan_share"),
    [
        (500, 400, 1, 0.0, 0.0),  # small reference: K-S, chi-square, Z
        (800, 800, 2, 0.4, 0.05),  # small, drifted, with NaN
        (5000, 3000, 3, 0.0, 0.0),  # large: Wasserstein and Jensen-Shannon
        (20000, 8000, 4, 0.5, 0.1),  # large, drifted, with NaN
    ],
)
def test_default_methods_scores_and_verdicts_equal_evidently(n_ref, n_cur, seed, shift, nan_share):
    reference, current = make_data(n_ref, n_cur, seed, shift, nan_share)
    expected, expected_dataset_drift = evidently_verdicts(
        reference, current, NUMERICAL, CATEGORICAL
    )
    ours = detect_drift(reference, current, columns=NUMERICAL + CATEGORICAL,
                        categorical=CATEGORICAL)
    assert set(ours.columns) == set(expected)
    for column, (method, score, drifted) in expected.items():
        mine = ours.columns[column]
        assert EVIDENTLY_NAMES[mine.method] == method, column
        tolerance = 0.0 if mine.method in BINNED else 1e-6
        assert mine.score == pytest.approx(score, abs=max(tolerance, 1e-12)), column
        assert mine.drifted == drifted, column
    assert ours.dataset_drift == expected_dataset_drift


@pytest.mark.parametrize("method", ["psi", "jensenshannon", "wasserstein"])
def test_method_set_per_column_equals_evidently(method):
    reference, current = make_data(3000, 2000, 5, 0.3)
    columns = ["normal", "skewed"]
    expected, _ = evidently_verdicts(reference[columns], current[columns], columns, [],
                                     per_column_method={c: method for c in columns})
    ours = detect_drift(reference, current, columns=columns, method={c: method for c in columns})
    for column, (_, score, drifted) in expected.items():
        assert ours.columns[column].score == pytest.approx(score, abs=1e-9)
        assert ours.columns[column].drifted == drifted


def test_wasserstein_merge_equals_scipy_with_ties():
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(9)
    u = np.round(rng.normal(size=5000), 1)
    v = np.round(rng.normal(0.2, size=3000), 1)
    assert wasserstein_sorted(np.sort(u), np.sort(v)) == pytest.approx(
        wasserstein_distance(u, v), abs=1e-12
    )


def test_profile_is_reused_across_batches_and_names_bad_columns():
    reference, current = make_data(2000, 1000, 6, 0.0)
    profile = ReferenceProfile.build(reference, NUMERICAL, categorical=[])
    first = profile.compare(current)
    second = profile.compare(current.assign(normal=current["normal"] + 3))
    assert not first.columns["normal"].drifted
    assert second.columns["normal"].drifted
    empty = current.assign(skewed=np.nan)
    report = profile.compare(empty)
    assert "skewed" in report.skipped and "empty" in report.skipped["skewed"]
    assert "skewed" not in report.columns


@pytest.mark.parametrize("n", [10, 137, 5000, 1_000_003])
def test_sturges_edges_from_min_max_equal_numpy(n):
    from checks.drift import _sturges_edges

    rng = np.random.default_rng(n)
    for scale in (1e-3, 1.0, 1e4):
        values = rng.normal(size=n) * scale
        expected = np.histogram_bin_edges(values, bins="sturges")
        assert np.array_equal(_sturges_edges(values.min(), values.max(), n), expected)
    constant = np.full(n, 3.0)
    assert np.array_equal(_sturges_edges(3.0, 3.0, n),
                          np.histogram_bin_edges(constant, bins="sturges"))
