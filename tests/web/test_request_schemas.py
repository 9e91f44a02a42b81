"""Every request body field is bounded in its schema, so the decoder refuses oversized input
before any handler runs: strings and lists have a maximum length, integers a range."""

from __future__ import annotations

from typing import Any

import msgspec
import msgspec.inspect as mi

from services.api.app import create_app
from shared.settings import Settings


def request_body_types() -> dict[str, Any]:
    settings = msgspec.convert(
        {"env": "test", "database_url": "postgresql://x@localhost/x", "redis_url": "redis://localhost"},
        Settings,
    )
    app = create_app(settings)
    found: dict[str, Any] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is not None:
                found[f"{handler.http_methods} {route.path}"] = data.annotation
    return found


def unbounded(info: mi.Type, where: str, seen: set[type]) -> list[str]:
    if isinstance(info, mi.StrType):
        return [] if info.max_length is not None else [where]
    if isinstance(info, mi.IntType):
        return [] if info.ge is not None or info.gt is not None else [where]
    if isinstance(info, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        own = [] if info.max_length is not None else [where]
        return own + unbounded(info.item_type, f"{where}[]", seen)
    if isinstance(info, mi.DictType):
        own = [] if info.max_length is not None else [where]
        return (
            own
            + unbounded(info.key_type, f"{where}{{key}}", seen)
            + unbounded(info.value_type, f"{where}{{}}", seen)
        )
    if isinstance(info, mi.UnionType):
        return [problem for t in info.types for problem in unbounded(t, where, seen)]
    if isinstance(info, mi.StructType):
        if info.cls in seen:
            return []
        seen.add(info.cls)
        return [p for f in info.fields for p in unbounded(f.type, f"{info.cls.__name__}.{f.name}", seen)]
    return []


# Bodies that are a bare JSON object of values by key: Litestar decodes them without schema bounds,
# so their handlers count the keys themselves (tests/reports covers the refusal).
BARE_OBJECTS = {"{'PATCH'} /api/v1/orgs/{slug:str}/matches/{match_id:uuid}/custom"}


def test_every_request_body_field_is_bounded() -> None:
    bodies = request_body_types()
    assert len(bodies) > 40
    problems: list[str] = []
    seen: set[type] = set()
    for operation, annotation in sorted(bodies.items()):
        if operation in BARE_OBJECTS:
            continue
        problems += [f"{operation}: {p}" for p in unbounded(mi.type_info(annotation), "body", seen)]
    assert not problems, "unbounded request fields:\n" + "\n".join(problems)
