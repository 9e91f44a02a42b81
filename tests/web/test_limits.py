"""Bounds on what a request may carry: refused while decoding, as problem+json, never a 500."""

from __future__ import annotations

import time
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from services.api.limits import MAX_DEPTH, TooDeep, check_json
from shared.errors import ValidationFailed
from shared.permissions import Role
from tests.conftest import Org

PROBLEM = "application/problem+json"


def assert_problem(r: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    if field is not None:
        assert body.get("field") == field, body
    return body


async def test_a_huge_tag_list_is_refused_at_once(client: AsyncTestClient[Any], org_a: Org) -> None:
    # 50,000 tags (just under the body limit) took the quadratic duplicate check seconds.
    body = {"kinds": ["mentee"], "last_name": "Tag", "tags": [f"t{i}" for i in range(50_000)]}
    started = time.perf_counter()
    r = await client.post(
        f"/api/v1/orgs/{org_a.slug}/contacts", json=body, headers=org_a.auth(Role.COORDINATOR)
    )
    elapsed = time.perf_counter() - started
    problem = assert_problem(r, 400, "tags")
    assert "50" in problem["detail"]
    assert elapsed < 1.0, f"refusing the tag list took {elapsed:.2f} s"


async def test_fifty_distinct_tags_are_kept_in_order(client: AsyncTestClient[Any], org_a: Org) -> None:
    tags = [f"Tag {i}" for i in range(49)] + ["Tag 0"]
    r = await client.post(
        f"/api/v1/orgs/{org_a.slug}/contacts",
        json={"kinds": ["mentee"], "last_name": "Viele", "tags": tags},
        headers=org_a.auth(Role.COORDINATOR),
    )
    assert r.status_code == 201, r.text
    assert r.json()["tags"] == tags[:49]


async def test_a_body_over_the_limit_is_413(client: AsyncTestClient[Any], org_a: Org) -> None:
    body = {"kinds": ["mentee"], "last_name": "Groß", "notes": "x" * (600 * 1024)}
    r = await client.post(
        f"/api/v1/orgs/{org_a.slug}/contacts", json=body, headers=org_a.auth(Role.COORDINATOR)
    )
    assert_problem(r, 413)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("tasks", {"title": "a\u0000", "due_date": "2026-12-01"}, "body"),
        ("contacts", {"kinds": ["mentee"], "last_name": "x", "custom": {"a": "\u0000"}}, "body"),
    ],
)
async def test_nul_in_a_body_is_refused(
    client: AsyncTestClient[Any], org_a: Org, path: str, body: dict[str, Any], field: str
) -> None:
    r = await client.post(f"/api/v1/orgs/{org_a.slug}/{path}", json=body, headers=org_a.auth(Role.ADMIN))
    assert_problem(r, 422, field)


@pytest.mark.parametrize(("path", "field"), [("contacts?tag=%00", "tag"), ("tasks?q=a%00b", "q")])
async def test_nul_in_a_query_parameter_is_refused(
    client: AsyncTestClient[Any], org_a: Org, path: str, field: str
) -> None:
    r = await client.get(f"/api/v1/orgs/{org_a.slug}/{path}", headers=org_a.auth(Role.ADMIN))
    assert_problem(r, 422, field)


async def test_deep_nesting_is_refused(client: AsyncTestClient[Any], org_a: Org) -> None:
    deep = "[" * 5000 + "]" * 5000
    raw = '{"kinds": ["mentee"], "last_name": "x", "preferences": {"a": ' + deep + "}}"
    r = await client.post(
        f"/api/v1/orgs/{org_a.slug}/contacts",
        content=raw.encode(),
        headers={**org_a.auth(Role.COORDINATOR), "content-type": "application/json"},
    )
    assert_problem(r, 422, "body")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "matching/end-reasons",
            {"key": "k", "label_de": "a", "label_en": "a", "position": 3_000_000_000},
            "position",
        ),
        ("contacts", {"kinds": ["mentee"], "last_name": "x", "capacity": -(2**40)}, "capacity"),
        ("tasks/bulk-complete", {"ids": ["00000000-0000-0000-0000-000000000000"] * 501}, "ids"),
    ],
)
async def test_integers_and_lists_beyond_their_column_are_refused(
    client: AsyncTestClient[Any], org_a: Org, path: str, body: dict[str, Any], field: str
) -> None:
    r = await client.post(f"/api/v1/orgs/{org_a.slug}/{path}", json=body, headers=org_a.auth(Role.ADMIN))
    assert_problem(r, 400, field)


def test_depth_counts_structure_not_brackets_in_text() -> None:
    at_limit = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    check_json(at_limit)
    check_json(b'{"a": "' + b"[" * 1000 + b'"}')
    check_json(b'{"a": "a backslash then u0000: \\\\u0000"}')
    with pytest.raises(TooDeep):
        check_json(b"[" + at_limit + b"]")
    with pytest.raises(ValidationFailed):
        check_json(b'{"a": "\\u0000"}')


async def test_security_headers_on_pages_api_and_errors(client: AsyncTestClient[Any], org_a: Org) -> None:
    for path, headers in (
        (f"/api/v1/orgs/{org_a.slug}/contacts", org_a.auth(Role.VIEWER)),
        ("/signin", {}),
        ("/no-such-page", {}),
    ):
        r = await client.get(path, headers=headers)
        assert r.headers["x-frame-options"] == "DENY", path
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp, path
        assert "unsafe-inline" not in csp, path
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["cache-control"] == "no-store", path


async def test_public_forms_may_be_framed(client: AsyncTestClient[Any]) -> None:
    r = await client.get("/f/no-such-org/no-such-form?embed=1")
    assert "x-frame-options" not in r.headers
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors" not in csp and "script-src 'self'" in csp


async def test_static_files_may_be_cached(client: AsyncTestClient[Any]) -> None:
    r = await client.get("/static/codo.css")
    assert r.status_code == 200
    assert r.headers.get("cache-control") != "no-store"
