"""Whatever the tasks API lets a role change, a page offers too: walks the app's own route table."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
API = "/api/v1/orgs/{slug:str}"
PAGES = "/o/{slug:str}"

# Each write of the tasks API and the page route that does the same through the same domain call.
OFFERED_BY = {
    ("POST", f"{API}/tasks"): ("POST", f"{PAGES}/tasks"),
    ("POST", f"{API}/tasks/bulk-complete"): ("POST", f"{PAGES}/tasks/bulk"),
    ("POST", f"{API}/tasks/bulk-reassign"): ("POST", f"{PAGES}/tasks/bulk"),
    ("PATCH", f"{API}/tasks/{{task_id:uuid}}"): ("POST", f"{PAGES}/tasks/{{task_id:uuid}}"),
    ("DELETE", f"{API}/tasks/{{task_id:uuid}}"): ("POST", f"{PAGES}/tasks/{{task_id:uuid}}/delete"),
    ("POST", f"{API}/tasks/{{task_id:uuid}}/complete"): ("POST", f"{PAGES}/tasks/{{task_id:uuid}}/complete"),
    ("POST", f"{API}/tasks/{{task_id:uuid}}/comments"): ("POST", f"{PAGES}/tasks/{{task_id:uuid}}/comments"),
    ("PUT", f"{API}/task-rules/{{rule:str}}"): ("POST", f"{PAGES}/task-rules"),
    ("POST", f"{API}/appointments"): ("POST", f"{PAGES}/appointments"),
    ("PATCH", f"{API}/appointments/{{appointment_id:uuid}}"): (
        "POST",
        f"{PAGES}/appointments/{{appointment_id:uuid}}",
    ),
    ("POST", f"{API}/appointments/{{appointment_id:uuid}}/confirm"): (
        "POST",
        f"{PAGES}/appointments/{{appointment_id:uuid}}/confirm",
    ),
    ("POST", f"{API}/appointments/{{appointment_id:uuid}}/cancel"): (
        "POST",
        f"{PAGES}/appointments/{{appointment_id:uuid}}/cancel",
    ),
    ("POST", f"{API}/notifications/{{notification_id:uuid}}/read"): (
        "POST",
        f"{PAGES}/notifications/{{notification_id:uuid}}/read",
    ),
    ("POST", f"{API}/notifications/read-all"): ("POST", f"{PAGES}/notifications/read-all"),
    ("PUT", f"{API}/notification-settings"): ("POST", f"{PAGES}/notification-settings"),
    ("POST", f"{API}/calendar-feed"): ("POST", f"{PAGES}/calendar-feed"),
    ("DELETE", f"{API}/calendar-feed"): ("POST", f"{PAGES}/calendar-feed/revoke"),
}

# Writes only a script needs; each says why no page offers it.
API_ONLY: dict[tuple[str, str], str] = {}


def routes_of(app: Any) -> dict[tuple[str, str], str]:
    """(method, path) of every route, with the module of its handler."""
    found = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                found[(method, route.path)] = handler.fn.__module__
    return found


def test_every_write_of_the_tasks_api_has_a_page(browserless: AsyncTestClient[Any]) -> None:
    routes = routes_of(browserless.app)
    writes = {
        key
        for key, module in routes.items()
        if key[0] in WRITES and key[1].startswith("/api/") and module.startswith("services.api.tasks.")
    }
    assert len(writes) >= 15, "the walk finds the tasks API"
    unoffered = sorted(w for w in writes if w not in OFFERED_BY and w not in API_ONLY)
    assert unoffered == [], f"API writes without a page: {unoffered}"
    missing_pages = sorted(page for page in OFFERED_BY.values() if page not in routes)
    assert missing_pages == [], f"pages named here that the app does not have: {missing_pages}"
    gone = sorted(w for w in [*OFFERED_BY, *API_ONLY] if w not in writes)
    assert gone == [], f"API writes named here that the app no longer has: {gone}"
