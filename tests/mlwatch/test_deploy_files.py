"""deployments/prefect.yaml stays true to the code and the demo config."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

from mlwatch.config import load_settings
from mlwatch.plan import model_groups

REPO = Path(__file__).resolve().parents[2]


def test_prefect_yaml_entrypoints_exist_and_cover_every_group():
    spec = yaml.safe_load((REPO / "deployments" / "prefect.yaml").read_text())
    names = set()
    for deployment in spec["deployments"]:
        path, _, function = deployment["entrypoint"].partition(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert callable(getattr(module, function)), deployment["entrypoint"]
        assert (REPO / path).exists()
        names.add(deployment["name"])
    model = load_settings(REPO / "mlwatch.yaml").model("diagnosis")
    expected = {f"diagnosis-{group}" for group in model_groups(model)}
    expected |= {"diagnosis-rollback", "diagnosis-retrain"}
    assert names == expected
