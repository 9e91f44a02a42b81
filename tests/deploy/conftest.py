from __future__ import annotations

from typing import Any

import pytest
import yaml

from .chart import PRODUCTION_VALUES, Manifest, render


@pytest.fixture(scope="session")
def default_manifests() -> list[Manifest]:
    """The chart with its default values plus the one required value, image.tag."""
    return render()


@pytest.fixture(scope="session")
def production_manifests() -> list[Manifest]:
    return render((PRODUCTION_VALUES,))


@pytest.fixture(scope="session")
def production_values() -> dict[str, Any]:
    return yaml.safe_load(PRODUCTION_VALUES.read_text())
