"""The demo's model: logistic regression on scikit-learn's bundled breast-cancer dataset.

The dataset ships inside scikit-learn (no download). A "bad build" scorer stands in for a
broken deployment: it serves random scores.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURE_MAP = {
    "mean radius": "mean_radius",
    "mean texture": "mean_texture",
    "mean perimeter": "mean_perimeter",
    "mean area": "mean_area",
    "mean smoothness": "mean_smoothness",
    "mean compactness": "mean_compactness",
    "mean concavity": "mean_concavity",
    "mean symmetry": "mean_symmetry",
}
FEATURES = list(FEATURE_MAP.values())
CATEGORICAL = ["channel"]
CHANNELS = ("clinic", "lab", "partner")
CHANNEL_P = (0.5, 0.35, 0.15)


def load_dataset() -> pd.DataFrame:
    """Features (renamed) and ``label``: 1 = benign, 0 = malignant."""
    raw = load_breast_cancer(as_frame=True).frame
    frame = raw[list(FEATURE_MAP)].rename(columns=FEATURE_MAP)
    frame["label"] = raw["target"].astype(int)
    return frame


class Scorer(Protocol):
    def predict_proba(self, features: pd.DataFrame) -> np.ndarray: ...


@dataclass
class RandomScorer:
    """A broken build: ignores its input and returns uniform random scores."""

    seed: int = 0

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        rng = np.random.default_rng(self.seed + len(features))
        score = rng.random(len(features))
        return np.column_stack([1 - score, score])


def train(data: pd.DataFrame, seed: int = 0) -> tuple[Pipeline, dict[str, float]]:
    """Fit on ``data`` (features + label) with a holdout; returns the model and its metrics."""
    rng = np.random.default_rng(seed)
    holdout = rng.random(len(data)) < 0.25
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(data.loc[~holdout, FEATURES], data.loc[~holdout, "label"])
    predicted = model.predict(data.loc[holdout, FEATURES])
    accuracy = accuracy_score(data.loc[holdout, "label"], predicted)
    return model, {"holdout_accuracy": float(accuracy), "rows": int(len(data))}


def save(model: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(model))


def load(path: Path) -> Scorer:
    return pickle.loads(path.read_bytes())
