"""The life of a match: every step checked, dated and logged, the contacts' statuses in step;
check-ins, meetings, hours, and the flag for a match nobody asked about for too long."""

from __future__ import annotations

from datetime import timedelta

from shared import clock
from shared.permissions import Role
from tests.fixtures.matching import MatchingApi

TODAY = clock.today()


def ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


async def statuses(matching: MatchingApi, *ids: str) -> list[str]:
    return [(await matching.contact(i))["status"] for i in ids]


async def test_a_match_from_proposal_to_its_end(matching: MatchingApi) -> None:
    mentee = await matching.person("mentee", "Yusuf", languages=["ar"])
    mentor = await matching.person("mentor", "Greta", languages=["ar"], capacity=1)
    waiting_since = (await matching.contact(mentee))["waiting_since"]
    assert waiting_since == TODAY.isoformat()

    r = await matching.call(
        "POST", "/matches", 422, json={"mentor_id": mentor, "mentee_id": mentee, "on": ago(-1)}
    )
    assert r["field"] == "on"
    match = await matching.propose(mentor, mentee, on=ago(30))
    assert (match["status"], match["proposed_on"]) == ("proposed", ago(30))
    assert match["score"] == 10.0  # the shared language, and nothing else is known
    # A proposal is not yet a match: both still wait, the mentee just cannot be proposed twice.
    assert await statuses(matching, mentee, mentor) == ["ready", "ready"]
    other_mentor = await matching.person("mentor", "Paul", languages=["ar"])
    r = await matching.call("POST", "/matches", 409, json={"mentor_id": other_mentor, "mentee_id": mentee})
    assert r["field"] == "mentee_id" and "not ended" in r["detail"]

    mid = match["id"]
    # The pair's own match does not make the mentor look full.
    assert (await matching.call("GET", "/matching/score", params={"mentor_id": mentor, "mentee_id": mentee}))[
        "excluded"
    ] is False
    r = await matching.move(mid, 409, to="active")
    assert r["field"] == "to"
    assert r["detail"] == "a match that is proposed can become introduced or ended, not active"

    m = await matching.move(mid, 201, to="introduced", on=ago(20), first_meeting_on=ago(15))
    assert (m["status"], m["introduced_on"], m["first_meeting_on"]) == ("introduced", ago(20), ago(15))
    assert await statuses(matching, mentee, mentor) == ["matched", "matched"]

    r = await matching.move(mid, 422, to="active", on=ago(25))
    assert r["field"] == "on" and ago(20) in r["detail"]
    r = await matching.move(mid, 422, to="active", on=(TODAY + timedelta(days=1)).isoformat())
    assert r["field"] == "on" and "future" in r["detail"]

    m = await matching.move(mid, 201, to="active", on=ago(15))
    assert (m["status"], m["started_on"]) == ("active", ago(15))
    m = await matching.move(mid, 201, to="paused", on=ago(5), reason="Prüfungszeit")
    assert (m["status"], m["paused_on"]) == ("paused", ago(5))
    assert await statuses(matching, mentee, mentor) == ["paused", "paused"]
    m = await matching.move(mid, 201, to="active", on=ago(2))
    assert (m["status"], m["started_on"], m["paused_on"]) == ("active", ago(15), None)
    assert await statuses(matching, mentee, mentor) == ["matched", "matched"]

    r = await matching.move(mid, 422, to="ended")
    assert r["field"] == "reason" and "goal_reached" in r["detail"]
    r = await matching.move(mid, 422, to="ended", reason="bored")
    assert r["field"] == "reason"
    m = await matching.move(mid, 201, to="ended", reason="moved_away")
    assert (m["status"], m["ended_on"], m["ended_early"]) == ("ended", TODAY.isoformat(), True)
    assert m["end_reason"] == {"key": "moved_away", "label": "Umzug", "early": True}
    assert await statuses(matching, mentee, mentor) == ["alumni", "ready"]
    assert (await matching.contact(mentee))["last_match_ended_on"] == TODAY.isoformat()

    r = await matching.move(mid, 409, to="active")
    assert r["detail"] == "this match has ended and cannot change any more"

    log = await matching.call("GET", f"/matches/{mid}")
    assert [(e["from_status"], e["to_status"]) for e in log["events"]] == [
        (None, "proposed"),
        ("proposed", "introduced"),
        ("introduced", "active"),
        ("active", "paused"),
        ("paused", "active"),
        ("active", "ended"),
    ]
    assert log["events"][3]["reason"] == "Prüfungszeit" and log["events"][5]["reason"] == "moved_away"
    assert all(e["actor"] == "API token coordinator token" for e in log["events"])
    assert log["checkin_overdue"] is False

    # The mentee may come back to the waiting list after an early end, and be proposed again.
    second = await matching.propose(other_mentor, mentee)
    await matching.move(second["id"], 201, to="introduced")
    ended = await matching.move(
        second["id"], 201, to="ended", reason="no_time", mentee_next="ready", ended_early=False
    )
    assert ended["ended_early"] is False
    contact = await matching.contact(mentee)
    assert (contact["status"], contact["waiting_since"]) == ("ready", TODAY.isoformat())


async def test_a_declined_proposal_leaves_the_contacts_as_they_were(matching: MatchingApi) -> None:
    mentee = await matching.person("mentee", "Olga", languages=["uk"])
    mentor = await matching.person("mentor", "Ivan", languages=["uk"])
    match = await matching.propose(mentor, mentee)
    ended = await matching.move(match["id"], 201, to="ended", reason="other")
    assert ended["status"] == "ended" and ended["introduced_on"] is None
    assert await statuses(matching, mentee, mentor) == ["ready", "ready"]
    assert (await matching.contact(mentee))["last_match_ended_on"] is None


async def test_a_mentor_takes_no_more_mentees_than_places(matching: MatchingApi) -> None:
    mentor = await matching.person("mentor", "Rita", languages=["de"], capacity=2)
    first, second, third = [await matching.person("mentee", n, languages=["de"]) for n in ("A", "B", "C")]
    m1 = await matching.propose(mentor, first)
    await matching.propose(mentor, second)
    r = await matching.call("POST", "/matches", 409, json={"mentor_id": mentor, "mentee_id": third})
    assert r["field"] == "mentor_id" and r["detail"] == "the mentor has no free place (2 of 2 taken)"
    await matching.move(m1["id"], 201, to="ended", reason="other")
    await matching.propose(mentor, third)


async def test_check_ins_meetings_hours_and_the_overdue_flag(matching: MatchingApi) -> None:
    await matching.call("PUT", "/matching/settings", role=Role.ADMIN, json={"checkin_interval_days": 7})
    mentee = await matching.person("mentee", "Lina", languages=["de"])
    mentor = await matching.person("mentor", "Bernd", languages=["de"])
    match = await matching.propose(mentor, mentee, on=ago(12))
    mid = match["id"]
    r = await matching.call("POST", f"/matches/{mid}/checkins", 409, json={"channel": "phone", "rating": 4})
    assert "introduced" in r["detail"]
    await matching.move(mid, 201, to="introduced", on=ago(12))
    await matching.move(mid, 201, to="active", on=ago(10))

    m = await matching.call("GET", f"/matches/{mid}")
    assert (m["checkin_due_on"], m["checkin_overdue"]) == (ago(3), True)
    overdue = await matching.call("GET", "/matches", params={"overdue": "true"})
    assert [x["id"] for x in overdue["items"]] == [mid]

    checkin = await matching.call(
        "POST", f"/matches/{mid}/checkins", 201,
        json={"channel": "in_person", "rating": 5, "notes": "läuft gut", "follow_up": True, "on": ago(1)},
    )  # fmt: skip
    assert (checkin["on"], checkin["rating"], checkin["follow_up"]) == (ago(1), 5, True)
    m = await matching.call("GET", f"/matches/{mid}")
    assert (m["last_checkin_on"], m["checkin_due_on"], m["checkin_overdue"]) == (ago(1), ago(-6), False)
    assert (await matching.call("GET", "/matches", params={"overdue": "true"}))["items"] == []
    assert [
        x["id"] for x in (await matching.call("GET", "/matches", params={"overdue": "false"}))["items"]
    ] == [mid]

    bad = await matching.call("POST", f"/matches/{mid}/checkins", 400, json={"channel": "phone", "rating": 9})
    assert bad["field"] == "rating"
    bad = await matching.call(
        "POST", f"/matches/{mid}/checkins", 400, json={"channel": "pigeon", "rating": 3}
    )
    assert bad["field"] == "channel"
    bad = await matching.call(
        "POST", f"/matches/{mid}/checkins", 422, json={"channel": "phone", "rating": 3, "on": ago(30)}
    )
    assert bad["field"] == "on"

    await matching.call(
        "POST", f"/matches/{mid}/meetings", 201,
        json={"duration_minutes": 90, "activity": "Zoo", "on": ago(8), "volunteer_minutes": 150},
    )  # fmt: skip
    await matching.call(
        "POST", f"/matches/{mid}/meetings", 201, json={"duration_minutes": 60, "reported_by": "mentee"}
    )
    bad = await matching.call("POST", f"/matches/{mid}/meetings", 400, json={"duration_minutes": 0})
    assert bad["field"] == "duration_minutes"
    m = await matching.call("GET", f"/matches/{mid}")
    assert (m["meetings"], m["meeting_hours"], m["volunteer_hours"]) == (2, 2.5, 3.5)
    listed = await matching.call("GET", f"/matches/{mid}/meetings")
    assert [x["activity"] for x in listed] == ["", "Zoo"]
    assert len(await matching.call("GET", f"/matches/{mid}/checkins")) == 1

    by_status = await matching.call("GET", "/matches", params={"status": "active,paused"})
    assert [x["id"] for x in by_status["items"]] == [mid]
    bad = await matching.call("GET", "/matches", 422, params={"status": "happy"})
    assert bad["field"] == "status"


async def test_the_organisation_edits_its_end_reasons(matching: MatchingApi) -> None:
    reasons = await matching.call("GET", "/matching/end-reasons")
    assert [r["key"] for r in reasons][:4] == ["goal_reached", "moved_away", "no_time", "conflict"]
    goal = reasons[0]
    assert goal["early"] is False and goal["label_de"] == "Ziel erreicht"

    body = {"key": "school_change", "label_de": "Schulwechsel", "label_en": "Changed school"}
    await matching.call("POST", "/matching/end-reasons", 403, role=Role.COORDINATOR, json=body)
    added = await matching.call("POST", "/matching/end-reasons", 201, role=Role.ADMIN, json=body)
    again = await matching.call("POST", "/matching/end-reasons", 409, role=Role.ADMIN, json=body)
    assert again["field"] == "key"
    changed = await matching.call(
        "PATCH", f"/matching/end-reasons/{added['id']}", role=Role.ADMIN, json={"early": False}
    )
    assert changed["early"] is False

    mentee = await matching.person("mentee", "Kim", languages=["de"])
    mentor = await matching.person("mentor", "Lou", languages=["de"])
    match = await matching.propose(mentor, mentee)
    await matching.move(match["id"], 201, to="introduced")
    await matching.call("DELETE", f"/matching/end-reasons/{added['id']}", 204, role=Role.ADMIN)
    assert "school_change" not in str(await matching.call("GET", "/matching/end-reasons"))
    r = await matching.move(match["id"], 422, to="ended", reason="school_change")
    assert r["field"] == "reason"
    ended = await matching.move(match["id"], 201, to="ended", reason="goal_reached")
    assert (ended["ended_early"], ended["end_reason"]["label"]) == (False, "Ziel erreicht")
