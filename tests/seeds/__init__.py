"""Rows of one organisation in every tenant table, for the isolation tests.

Each module here defines ``async def seed(db, org)`` that writes at least one row of ``org``
into the tables of its domain. Adding a tenant table means adding (or extending) a seed
module: tests/test_tenancy.py fails for a table that stays empty.
"""

from __future__ import annotations

import importlib
import pkgutil

from shared.db import Database
from tests.conftest import Org


async def seed_every_tenant_table(db: Database, org: Org) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        await module.seed(db, org)
