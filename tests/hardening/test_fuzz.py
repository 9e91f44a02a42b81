"""Property-based fuzzing of every operation in codo's own OpenAPI document, with a token of each
role, against a real `codo api` process: no answer is a 5xx, every 4xx is problem+json.

The first valid example of each operation is also sent with the values that broke codo before
(a NUL in each query parameter and string field, an integer beyond int4, a list of 10,000
entries). The number of examples per operation and generation mode is small so the suite stays fast;
CODO_FUZZ_EXAMPLES raises it for a deeper run.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from shared.db import Database
from shared.permissions import Role
from tests.conftest import Org, create_org
from tests.hardening.conftest import ApiProcess

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("CODO_FUZZ_EXAMPLES", "3"))
MODES = {GenerationMode.POSITIVE: EXAMPLES, GenerationMode.NEGATIVE: max(1, EXAMPLES // 2)}


# Values that broke codo before (issue: NUL in any string, integers beyond int4, huge lists).
HOSTILE_STRING = "a\x00b"
HOSTILE_INT = 3_000_000_000
HOSTILE_LIST_LENGTH = 10_000


def mutations(case: Any) -> list[tuple[str, str, Any]]:
    """Where in a valid case the known-hostile values can go: every query parameter and every
    top-level body field, each with the value of its kind."""
    declared = [parameter.name for parameter in case.operation.query]
    found: list[tuple[str, str, Any]] = [("query", name, HOSTILE_STRING) for name in declared]
    if isinstance(case.body, dict):
        for name, value in case.body.items():
            if isinstance(value, str):
                found.append(("body", name, HOSTILE_STRING))
            elif isinstance(value, int) and not isinstance(value, bool):
                found.append(("body", name, HOSTILE_INT))
            elif isinstance(value, list):
                found.append(("body", name, ["x"] * HOSTILE_LIST_LENGTH))
    return found


# A page that made it into the document answers its errors as an HTML page, by design.
PAGES = ("/o/", "/f/")


def problems_of(case: Any, response: Any) -> list[str]:
    found = []
    where = f"{case.method} {case.formatted_path}"
    headers = {k.lower(): v[0] if isinstance(v, list) else v for k, v in response.headers.items()}
    if response.status_code >= 500:
        found.append(f"{where} -> {response.status_code}: {response.text[:300]}\n{case.as_curl_command()}")
    elif response.status_code >= 400 and case.method.upper() != "HEAD" and not case.path.startswith(PAGES):
        kind = headers.get("content-type", "")
        if not kind.startswith("application/problem+json"):
            found.append(f"{where} -> {response.status_code} as {kind!r}\n{case.as_curl_command()}")
    return found


async def known_ids(base: str, org: Org) -> dict[str, str]:
    """Ids that exist, so operations on one record get past the 404 some of the time."""
    async with httpx.AsyncClient(base_url=base, headers=org.auth(Role.ADMIN)) as http:
        contact = await http.post(
            f"/api/v1/orgs/{org.slug}/contacts", json={"kinds": ["mentor"], "last_name": "Fuzz"}
        )
        task = await http.post(
            f"/api/v1/orgs/{org.slug}/tasks", json={"title": "Fuzz", "due_date": "2026-12-01"}
        )
    return {"contact_id": contact.json()["id"], "task_id": task.json()["id"]}


async def test_no_operation_answers_5xx_or_a_4xx_without_problem_json(
    api_process: ApiProcess, db: Database
) -> None:
    base = api_process.base
    org = await create_org(db)
    ids = await known_ids(base, org)
    document = httpx.get(f"{base}/schema/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    # Deletions last, so the records the other operations use still exist.
    operations.sort(key=lambda op: op.method.lower() == "delete")
    assert len(operations) > 100, "the document lists every operation"
    session = requests.Session()
    failures: list[str] = []
    calls = 0
    waiting = 0.0
    mutated: set[str] = set()
    started = time.perf_counter()
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        fixed = {k: v for k, v in {"slug": org.slug, **ids}.items() if k in names}
        for mode, examples in MODES.items():
            strategy = st.tuples(
                operation.as_strategy(generation_mode=mode, path_parameters=fixed),
                st.sampled_from(list(Role)),
            )

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(strategy)
            def run(drawn: tuple[Any, Role]) -> None:
                nonlocal calls
                case, role = drawn
                nonlocal waiting
                sent = time.perf_counter()
                response = case.call(base_url=base, session=session, headers=org.auth(role), timeout=30)
                waiting += time.perf_counter() - sent
                calls += 1
                failures.extend(problems_of(case, response))
                valid = case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE
                if valid and case.operation.label not in mutated:
                    mutated.add(case.operation.label)
                    for where, name, value in mutations(case):
                        if where == "query" and case.query is None:
                            case.query = {}
                        part = case.query if where == "query" else case.body
                        before = dict(part)
                        part[name] = value
                        hostile = case.call(
                            base_url=base, session=session, headers=org.auth(role), timeout=30
                        )
                        part.clear()
                        part.update(before)
                        calls += 1
                        failures.extend(problems_of(case, hostile))

            op_started = time.perf_counter()
            try:
                run()
            except (schemathesis.errors.SerializationNotPossible, Unsatisfiable):
                # Nothing of this operation can be made invalid (or sent) in this mode.
                continue
            finally:
                if os.environ.get("CODO_FUZZ_VERBOSE"):
                    print(
                        f"{operation.method.upper()} {operation.path} {mode.value}: "
                        f"{time.perf_counter() - op_started:.1f} s"
                    )
    elapsed = time.perf_counter() - started
    print(
        f"\nfuzzed {len(operations)} operations with {calls} requests in {elapsed:.0f} s "
        f"({waiting:.0f} s waiting for answers)"
    )
    assert not failures, "\n\n".join(dict.fromkeys(failures))
