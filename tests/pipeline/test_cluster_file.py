"""ray_cluster.yaml passes Ray's own cluster-config validator, and says what GPU nodes need."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _validate(config: dict[str, Any]) -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(copy.deepcopy(config)))


@pytest.fixture(scope="module")
def cluster() -> dict[str, Any]:
    return yaml.safe_load((REPO / "ray_cluster.yaml").read_text())


def test_shipped_cluster_file_is_valid(cluster: dict[str, Any]) -> None:
    _validate(cluster)


def test_validator_catches_mistakes(cluster: dict[str, Any]) -> None:
    """The check can fail: an unknown key and a wrong type are refused."""
    import jsonschema

    unknown = {**cluster, "max_wrokers": 3}
    with pytest.raises(jsonschema.ValidationError, match="max_wrokers"):
        _validate(unknown)
    mistyped = copy.deepcopy(cluster)
    mistyped["available_node_types"]["gpu_worker"]["min_workers"] = "two"
    with pytest.raises(jsonschema.ValidationError, match="'two' is not of type 'integer'"):
        _validate(mistyped)


def test_gpu_workers_install_cuda_torch_and_gpu_extras(cluster: dict[str, Any]) -> None:
    setup = " ".join(cluster["available_node_types"]["gpu_worker"]["worker_setup_commands"])
    assert "torch==2.13.0" in setup and "whl/cu" in setup
    assert "[gpu,cloud]" in setup  # GPU stages fetch media from a bucket OUT too
    pyproject = (REPO / "pyproject.toml").read_text()
    assert "gpu = [" in pyproject and "cloud = [" in pyproject


def test_cluster_file_says_how_to_point_out_at_a_bucket() -> None:
    text = (REPO / "ray_cluster.yaml").read_text()
    assert "--out s3://" in text and "credentials" in text
