"""Whatever the JSON API lets a role change, the pages let that person change too.

The test walks the app's own route table: every write under /api/v1 (POST, PUT, PATCH, DELETE)
either names the page route that offers it in ``OFFERED_BY`` (which must exist in the table) or
stands in ``API_ONLY`` with the reason it has no page. A new API write with neither fails here,
and so does a page route named here that the app no longer serves.
"""

from __future__ import annotations

import re

from services.api.app import create_app
from tests.conftest import Servers, make_settings

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
API = "/api/v1/orgs/{slug}"
PAGE = "/o/{slug}"

# API write -> the page route (method, path) where a person does the same.
OFFERED_BY: dict[tuple[str, str], tuple[str, str]] = {
    # contacts
    ("POST", f"{API}/contacts"): ("POST", f"{PAGE}/contacts/new"),
    ("PATCH", f"{API}/contacts/{{contact_id}}"): ("POST", f"{PAGE}/contacts/{{contact_id}}/edit"),
    ("DELETE", f"{API}/contacts/{{contact_id}}"): ("POST", f"{PAGE}/contacts/{{contact_id}}/delete"),
    ("POST", f"{API}/contacts/{{contact_id}}/merge"): ("POST", f"{PAGE}/contacts/{{contact_id}}/merge"),
    ("POST", f"{API}/contacts/{{contact_id}}/consents"): ("POST", f"{PAGE}/contacts/{{contact_id}}/consents"),
    ("POST", f"{API}/contacts/{{contact_id}}/erase"): ("POST", f"{PAGE}/contacts/{{contact_id}}/erase"),
    ("POST", f"{API}/contacts/{{contact_id}}/erase-request"): (
        "POST",
        f"{PAGE}/contacts/{{contact_id}}/erase-request",
    ),
    ("POST", f"{API}/contacts/{{contact_id}}/links"): ("POST", f"{PAGE}/contacts/{{contact_id}}/links"),
    ("DELETE", f"{API}/contacts/{{contact_id}}/links/{{link_id}}"): (
        "POST",
        f"{PAGE}/contacts/{{contact_id}}/links/{{link_id}}/remove",
    ),
    ("POST", f"{API}/contacts/{{contact_id}}/timeline"): ("POST", f"{PAGE}/contacts/{{contact_id}}/timeline"),
    ("DELETE", f"{API}/contacts/{{contact_id}}/timeline/{{activity_id}}"): (
        "POST",
        f"{PAGE}/contacts/{{contact_id}}/timeline/{{activity_id}}/remove",
    ),
    ("POST", f"{API}/contacts/exports"): ("POST", f"{PAGE}/contacts/export"),
    ("POST", f"{API}/contacts/fields"): ("POST", f"{PAGE}/contacts/fields"),
    ("PATCH", f"{API}/contacts/fields/{{field_id}}"): ("POST", f"{PAGE}/contacts/fields/{{field_id}}"),
    ("DELETE", f"{API}/contacts/fields/{{field_id}}"): (
        "POST",
        f"{PAGE}/contacts/fields/{{field_id}}/archive",
    ),
    ("POST", f"{API}/contacts/fields/{{field_id}}/restore"): (
        "POST",
        f"{PAGE}/contacts/fields/{{field_id}}/restore",
    ),
    ("POST", f"{API}/contacts/programmes"): ("POST", f"{PAGE}/contacts/programmes"),
    ("DELETE", f"{API}/contacts/programmes/{{programme_id}}"): (
        "POST",
        f"{PAGE}/contacts/programmes/{{programme_id}}/remove",
    ),
    ("PATCH", f"{API}/contacts/settings"): ("POST", f"{PAGE}/contacts/settings"),
    ("POST", f"{API}/contacts/retention/apply"): ("POST", f"{PAGE}/contacts/settings/retention"),
    ("POST", f"{API}/imports"): ("POST", f"{PAGE}/contacts/import"),
    ("POST", f"{API}/imports/{{import_id}}/commit"): ("POST", f"{PAGE}/contacts/import/{{import_id}}/commit"),
    ("POST", f"{API}/imports/{{import_id}}/undo"): ("POST", f"{PAGE}/contacts/import/{{import_id}}/undo"),
    # intake: preparation, events, sign-up forms
    ("POST", f"{API}/screening/steps"): ("POST", f"{PAGE}/intake/steps"),
    ("POST", f"{API}/screening/steps/defaults"): ("POST", f"{PAGE}/intake/steps/defaults"),
    ("PATCH", f"{API}/screening/steps/{{step_id}}"): ("POST", f"{PAGE}/intake/steps/{{step_id}}"),
    ("DELETE", f"{API}/screening/steps/{{step_id}}"): ("POST", f"{PAGE}/intake/steps/{{step_id}}/remove"),
    ("POST", f"{API}/screening/records"): ("POST", f"{PAGE}/intake/people/{{contact_id}}/records"),
    ("DELETE", f"{API}/screening/records/{{record_id}}"): (
        "POST",
        f"{PAGE}/intake/people/{{contact_id}}/records/{{record_id}}/remove",
    ),
    ("POST", f"{API}/screening/certificates"): ("POST", f"{PAGE}/intake/people/{{contact_id}}/certificate"),
    ("PATCH", f"{API}/screening/people/{{contact_id}}"): (
        "POST",
        f"{PAGE}/intake/people/{{contact_id}}/profile",
    ),
    ("POST", f"{API}/events"): ("POST", f"{PAGE}/intake/events"),
    ("PATCH", f"{API}/events/{{event_id}}"): ("POST", f"{PAGE}/intake/events/{{event_id}}"),
    ("DELETE", f"{API}/events/{{event_id}}"): ("POST", f"{PAGE}/intake/events/{{event_id}}/cancel"),
    ("POST", f"{API}/events/{{event_id}}/invitations"): (
        "POST",
        f"{PAGE}/intake/events/{{event_id}}/invitations",
    ),
    ("POST", f"{API}/events/{{event_id}}/attendance"): (
        "POST",
        f"{PAGE}/intake/events/{{event_id}}/attendance",
    ),
    ("DELETE", f"{API}/events/{{event_id}}/attendees/{{contact_id}}"): (
        "POST",
        f"{PAGE}/intake/events/{{event_id}}/attendees/{{contact_id}}/remove",
    ),
    ("POST", f"{API}/forms"): ("POST", f"{PAGE}/intake/forms"),
    ("PATCH", f"{API}/forms/{{form_id}}"): ("POST", f"{PAGE}/intake/forms/{{form_id}}"),
    ("DELETE", f"{API}/forms/{{form_id}}"): ("POST", f"{PAGE}/intake/forms/{{form_id}}/remove"),
    # matching
    ("POST", f"{API}/matches"): ("POST", f"{PAGE}/matching/propose"),
    ("POST", f"{API}/matches/{{match_id}}/transitions"): ("POST", f"{PAGE}/matches/{{match_id}}/transition"),
    ("POST", f"{API}/matches/{{match_id}}/checkins"): ("POST", f"{PAGE}/matches/{{match_id}}/checkins"),
    ("POST", f"{API}/matches/{{match_id}}/meetings"): ("POST", f"{PAGE}/matches/{{match_id}}/meetings"),
    ("PATCH", f"{API}/matches/{{match_id}}/custom"): ("POST", f"{PAGE}/matches/{{match_id}}/fields"),
    ("POST", f"{API}/matching/runs"): ("POST", f"{PAGE}/matching/runs"),
    ("POST", f"{API}/matching/runs/{{run_id}}/accept"): ("POST", f"{PAGE}/matching/runs/{{run_id}}/accept"),
    ("POST", f"{API}/matching/runs/{{run_id}}/rerun"): ("POST", f"{PAGE}/matching/runs/{{run_id}}/rerun"),
    ("PUT", f"{API}/matching/settings"): ("POST", f"{PAGE}/matching/settings"),
    ("POST", f"{API}/matching/end-reasons"): ("POST", f"{PAGE}/matching/end-reasons"),
    ("PATCH", f"{API}/matching/end-reasons/{{reason_id}}"): (
        "POST",
        f"{PAGE}/matching/end-reasons/{{reason_id}}",
    ),
    ("DELETE", f"{API}/matching/end-reasons/{{reason_id}}"): (
        "POST",
        f"{PAGE}/matching/end-reasons/{{reason_id}}/archive",
    ),
    # members, sign-in, tokens, legal pages
    ("POST", f"{API}/invitations"): ("POST", f"{PAGE}/invitations"),
    ("DELETE", f"{API}/invitations/{{invitation_id}}"): (
        "POST",
        f"{PAGE}/invitations/{{invitation_id}}/revoke",
    ),
    ("POST", f"{API}/invitations/{{invitation_id}}/resend"): (
        "POST",
        f"{PAGE}/invitations/{{invitation_id}}/resend",
    ),
    ("PATCH", f"{API}/members/{{member_id}}"): ("POST", f"{PAGE}/members/{{member_id}}/role"),
    ("DELETE", f"{API}/members/{{member_id}}"): ("POST", f"{PAGE}/members/{{member_id}}/remove"),
    ("PUT", f"{API}/signin-provider"): ("POST", f"{PAGE}/settings/signin"),
    ("POST", f"{API}/tokens"): ("POST", f"{PAGE}/tokens"),
    ("DELETE", f"{API}/tokens/{{token_id}}"): ("POST", f"{PAGE}/tokens/{{token_id}}/revoke"),
    ("PUT", f"{API}/settings/legal"): ("POST", f"{PAGE}/settings/legal"),
    # tasks, appointments, notifications, calendar feed
    ("POST", f"{API}/tasks"): ("POST", f"{PAGE}/tasks"),
    ("POST", f"{API}/tasks/bulk-complete"): ("POST", f"{PAGE}/tasks/bulk"),
    ("POST", f"{API}/tasks/bulk-reassign"): ("POST", f"{PAGE}/tasks/bulk"),
    ("POST", f"{API}/tasks/{{task_id}}/complete"): ("POST", f"{PAGE}/tasks/{{task_id}}/complete"),
    ("POST", f"{API}/tasks/{{task_id}}/comments"): ("POST", f"{PAGE}/tasks/{{task_id}}/comments"),
    ("PUT", f"{API}/task-rules/{{rule}}"): ("POST", f"{PAGE}/task-rules"),
    ("POST", f"{API}/appointments"): ("POST", f"{PAGE}/appointments"),
    ("POST", f"{API}/calendar-feed"): ("POST", f"{PAGE}/calendar-feed"),
    ("DELETE", f"{API}/calendar-feed"): ("POST", f"{PAGE}/calendar-feed/revoke"),
    ("PUT", f"{API}/notification-settings"): ("POST", f"{PAGE}/notification-settings"),
    ("POST", f"{API}/notifications/read-all"): ("POST", f"{PAGE}/notifications/read-all"),
    # tasks, appointments and notifications
    ("PATCH", f"{API}/tasks/{{task_id}}"): ("POST", f"{PAGE}/tasks/{{task_id}}"),
    ("DELETE", f"{API}/tasks/{{task_id}}"): ("POST", f"{PAGE}/tasks/{{task_id}}/delete"),
    ("PATCH", f"{API}/appointments/{{appointment_id}}"): ("POST", f"{PAGE}/appointments/{{appointment_id}}"),
    ("POST", f"{API}/appointments/{{appointment_id}}/cancel"): (
        "POST",
        f"{PAGE}/appointments/{{appointment_id}}/cancel",
    ),
    ("POST", f"{API}/appointments/{{appointment_id}}/confirm"): (
        "POST",
        f"{PAGE}/appointments/{{appointment_id}}/confirm",
    ),
    ("POST", f"{API}/notifications/{{notification_id}}/read"): (
        "POST",
        f"{PAGE}/notifications/{{notification_id}}/read",
    ),
    # a tandem's signals, meeting log and questionnaires
    ("DELETE", f"{API}/matches/{{match_id}}/follow-up"): (
        "POST",
        f"{PAGE}/matches/{{match_id}}/follow-up/clear",
    ),
    ("POST", f"{API}/matches/{{match_id}}/meeting-log/link"): (
        "POST",
        f"{PAGE}/matches/{{match_id}}/meeting-log/link",
    ),
    ("DELETE", f"{API}/matches/{{match_id}}/meeting-log/link"): (
        "POST",
        f"{PAGE}/matches/{{match_id}}/meeting-log/revoke",
    ),
    ("POST", f"{API}/matches/{{match_id}}/questionnaires"): (
        "POST",
        f"{PAGE}/matches/{{match_id}}/questionnaires",
    ),
    ("POST", f"{API}/questionnaire-invitations/{{invitation_id}}/revoke"): (
        "POST",
        f"{PAGE}/questionnaire-invitations/{{invitation_id}}/revoke",
    ),
    ("POST", f"{API}/questionnaires/from-template"): ("POST", f"{PAGE}/questionnaires/from-template"),
    ("POST", f"{API}/questionnaires/schedules"): ("POST", f"{PAGE}/questionnaires/schedules"),
    ("DELETE", f"{API}/questionnaires/schedules/{{schedule_id}}"): (
        "POST",
        f"{PAGE}/questionnaires/schedules/{{schedule_id}}/delete",
    ),
    ("PUT", f"{API}/questionnaires/settings"): ("POST", f"{PAGE}/questionnaires/settings"),
    ("POST", f"{API}/questionnaires"): ("POST", f"{PAGE}/questionnaires/new"),
    # A question at a time (add, change, move, remove), the title and introduction, archiving.
    ("PATCH", f"{API}/questionnaires/{{questionnaire_id}}"): (
        "POST",
        f"{PAGE}/questionnaires/{{questionnaire_id}}/questions/{{question_key}}",
    ),
    ("PUT", f"{API}/questionnaires/schedules/{{schedule_id}}"): (
        "POST",
        f"{PAGE}/questionnaires/schedules/{{schedule_id}}",
    ),
    # the person answering, without an account: the same answers by form or by JSON
    ("POST", "/api/v1/q/{token}"): ("POST", "/q/{token}"),
    # reporting's settings
    ("POST", f"{API}/match-fields"): ("POST", f"{PAGE}/match-fields"),
    ("PATCH", f"{API}/match-fields/{{field_id}}"): ("POST", f"{PAGE}/match-fields/{{field_id}}"),
    ("DELETE", f"{API}/match-fields/{{field_id}}"): ("POST", f"{PAGE}/match-fields/{{field_id}}/archive"),
    ("PUT", f"{API}/reports/benchmarks/opt-in"): ("POST", f"{PAGE}/reports/benchmarks/opt-in"),
    ("PUT", f"{API}/reports/programmes/{{programme_id}}/kind"): (
        "POST",
        f"{PAGE}/reports/benchmarks/programmes/{{programme_id}}",
    ),
    # reports: the pages download an export directly instead of queueing one
    ("POST", f"{API}/reports/exports"): ("GET", f"{PAGE}/reports/export/xlsx"),
}

# API writes without a page, each with its reason.
API_ONLY: dict[tuple[str, str], str] = {
    # Integrations by nature: a script keeps its column mapping for the next nightly import.
    ("POST", f"{API}/imports/mappings"): "saved mappings for scripted imports",
    # Removing the organisation's own provider is an operator's recovery step: a page would let an
    # admin lock every member out in one click (the sign-in settings page only changes it).
    ("DELETE", f"{API}/signin-provider"): "recovery by API token when the provider is broken",
}


def _plain(path: str) -> str:
    """``/o/{slug:str}/x/{id:uuid}`` -> ``/o/{slug}/x/{id}``."""
    return re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)


def _routes(servers: Servers, smtp_port: int) -> set[tuple[str, str]]:
    app = create_app(make_settings(servers, smtp_port))
    return {
        (method, _plain(route.path))
        for route in app.routes
        for method in getattr(route, "methods", ())
        if method not in {"HEAD", "OPTIONS"}
    }


def test_every_api_write_is_offered_by_a_page_or_named_api_only(servers: Servers, smtp_port: int) -> None:
    routes = _routes(servers, smtp_port)
    api_writes = {(m, p) for m, p in routes if m in WRITES and p.startswith("/api/v1/")}
    assert len(api_writes) > 60, "the walk found the API's writes"
    without_page = sorted(w for w in api_writes if w not in OFFERED_BY and w not in API_ONLY)
    assert without_page == [], "an API write no page offers: add the page, or say in API_ONLY why not"
    gone = sorted(page for api, page in OFFERED_BY.items() if api in api_writes and page not in routes)
    assert gone == [], "a page named as offering an API write is not served"
    stale = sorted(w for w in [*OFFERED_BY, *API_ONLY] if w not in api_writes)
    assert stale == [], "an entry for an API write that no longer exists"
    both = sorted(set(OFFERED_BY) & set(API_ONLY))
    assert both == []
