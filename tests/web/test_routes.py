"""Every web module's routes reach the app: a page or endpoint left out of its home's ``api.py`` or
``pages.py`` would answer 404."""

from __future__ import annotations

import importlib
import pkgutil

import services.api
from services.api.app import route_handlers


def test_every_module_with_routes_is_served_and_each_route_once() -> None:
    served = route_handlers()
    declared = []
    for info in pkgutil.walk_packages(services.api.__path__, "services.api."):
        module = importlib.import_module(info.name)
        declared += [(info.name, handler) for handler in getattr(module, "ROUTES", [])]
    assert len(declared) > 20
    missing = [f"{name}: {handler}" for name, handler in declared if handler not in served]
    assert missing == []
    assert len(served) == len(set(served))
