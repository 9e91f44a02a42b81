"""A programme whose history is known by construction, for the report of the year 2025.

Tandems (mentee, mentor, proposed, started, ended):
  A  E1 M1  2024-11-01 2024-12-01  -            active all year, never ends
  B  E2 M1  2025-12-20 2025-12-31  -            starts on the period's last day
  C  E3 M2  2024-05-01 2024-06-01  2025-01-01   ends early on the period's first day
  D  E4 M5  2024-01-01 2024-02-01  2024-12-31   ends the day before the period: not counted
  E  E5 M3  2025-03-01 2025-03-11  2025-09-30   ends as planned
  F  E6 M5  2026-01-01 2026-01-01  -            starts the day after the period
  G  E7 M5  2025-06-01 -           -            proposed, never started
  H  E8 M4  2025-02-01 2025-02-10  -            paused, in the second programme
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.contacts.models import Contact, CustomField, Programme, ProgrammeMembership
from shared.contacts.service import derive
from shared.db import Database
from shared.intake.models import EventAttendee, IntakeEvent, IntakeForm, IntakeSubmission
from shared.matching.models import CheckIn, EndReason, Match, MatchField, Meeting

BERLIN = ZoneInfo("Europe/Berlin")
YEAR = (date(2025, 1, 1), date(2025, 12, 31))


def _token() -> bytes:
    return hashlib.sha256(secrets.token_bytes(8)).digest()


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


@dataclass
class History:
    programme: uuid.UUID
    second: uuid.UUID
    matches: dict[str, uuid.UUID] = field(default_factory=dict)
    people: dict[str, uuid.UUID] = field(default_factory=dict)


async def build(db: Database, org_id: uuid.UUID) -> History:
    async with db.tenant(org_id) as s:
        o = org_id
        p1 = Programme(organization_id=o, name="Lesepatenschaften", kind="reading")
        p2 = Programme(organization_id=o, name="Jobpatenschaften", kind="job")
        s.add_all([p1, p2])
        s.add(
            MatchField(
                organization_id=o, key="funder", label_de="Förderer", label_en="Funder", type="choice",
                options=[{"value": "stadt", "label_de": "Stadt", "label_en": "City"},
                         {"value": "stiftung", "label_de": "Stiftung", "label_en": "Foundation"}],
            )
        )  # fmt: skip
        s.add(MatchField(organization_id=o, key="note", label_de="Notiz", label_en="Note", type="text"))
        s.add(
            CustomField(
                organization_id=o, key="school", label_de="Schule", label_en="School", type="choice",
                options=[{"value": "gs", "label_de": "Grundschule", "label_en": "Primary"}],
            )
        )  # fmt: skip
        s.add(
            CustomField(organization_id=o, key="remark", label_de="Bemerkung", label_en="Remark", type="text")
        )
        early = EndReason(organization_id=o, key="moved", label_de="Umzug", label_en="Moved", early=True)
        goal = EndReason(
            organization_id=o, key="goal", label_de="Ziel erreicht", label_en="Goal reached", early=False
        )
        s.add_all([early, goal])
        people: dict[str, Contact] = {}

        def person(name: str, kind: str, **values: Any) -> Contact:
            c = Contact(organization_id=o, kinds=[kind], first_name=name, last_name="Muster", **values)
            derive(c)
            people[name] = c
            s.add(c)
            return c

        person("M1", "mentor", birth_date=date(2006, 1, 1), gender="female", status="matched")
        # Turns 30 on the period's last day.
        person("M2", "mentor", birth_date=date(1995, 12, 31), gender="male", status="ready")
        person("M3", "mentor", birth_date=date(1960, 6, 1), gender="diverse", status="ready")
        person("M4", "mentor", status="paused")
        person("M5", "mentor", birth_date=date(1990, 5, 5), gender="male", status="matched",
               waiting_since=date(2025, 3, 3))  # fmt: skip
        person("E1", "mentee", gender="female", status="matched", custom={"school": "gs"})
        person("E2", "mentee", gender="male", status="matched", waiting_since=date(2025, 10, 1))
        person("E3", "mentee", gender="female", status="alumni")
        person("E4", "mentee", status="alumni")
        person("E5", "mentee", gender="diverse", status="alumni", waiting_since=date(2025, 1, 1))
        person("E6", "mentee", status="matched")
        person("E7", "mentee", status="ready", waiting_since=date(2025, 5, 2))
        person("E8", "mentee", gender="male", status="paused", waiting_since=date(2025, 2, 1))
        person("W1", "mentee", status="ready", waiting_since=date(2025, 12, 31))
        person("W2", "mentee", status="ready", waiting_since=date(2026, 1, 1))
        person("W3", "mentee", status="declined", waiting_since=date(2025, 4, 1),
               status_changed_at=datetime(2025, 7, 1, 10, tzinfo=UTC))  # fmt: skip
        await s.flush()
        for c in people.values():
            s.add(ProgrammeMembership(organization_id=o, contact_id=c.id, programme_id=p1.id))

        def tandem(mentee: str, mentor: str, proposed: date, started: date | None, ended: date | None,
                   status: str, programme: Programme = p1, **values: Any) -> Match:  # fmt: skip
            m = Match(
                organization_id=o, mentee_id=people[mentee].id, mentor_id=people[mentor].id,
                programme_id=programme.id, status=status, proposed_on=proposed, started_on=started,
                ended_on=ended, **values,
            )  # fmt: skip
            s.add(m)
            return m

        d = date
        city, foundation = {"funder": "stadt"}, {"funder": "stiftung"}
        matches = {
            "A": tandem("E1", "M1", d(2024, 11, 1), d(2024, 12, 1), None, "active", custom=city),
            "B": tandem("E2", "M1", d(2025, 12, 20), d(2025, 12, 31), None, "active", custom=city),
            "C": tandem("E3", "M2", d(2024, 5, 1), d(2024, 6, 1), d(2025, 1, 1), "ended", ended_early=True,
                        end_reason_id=early.id, custom=foundation),
            "D": tandem("E4", "M5", d(2024, 1, 1), d(2024, 2, 1), d(2024, 12, 31), "ended", ended_early=False,
                        end_reason_id=goal.id),
            "E": tandem("E5", "M3", d(2025, 3, 1), d(2025, 3, 11), d(2025, 9, 30), "ended", ended_early=False,
                        end_reason_id=goal.id, custom=foundation),
            "F": tandem("E6", "M5", d(2026, 1, 1), d(2026, 1, 1), None, "active"),
            "G": tandem("E7", "M5", d(2025, 6, 1), None, None, "proposed"),
            "H": tandem("E8", "M4", d(2025, 2, 1), d(2025, 2, 10), None, "paused", programme=p2),
        }  # fmt: skip
        await s.flush()
        m = {k: v.id for k, v in matches.items()}

        def meeting(match: str, on: date, minutes: int, volunteer: int) -> None:
            s.add(Meeting(organization_id=o, match_id=m[match], occurred_on=on,
                          duration_minutes=minutes, volunteer_minutes=volunteer))  # fmt: skip

        meeting("A", d(2025, 1, 1), 60, 90)
        meeting("A", d(2024, 12, 31), 600, 600)
        meeting("E", d(2025, 12, 31), 30, 30)

        def check_in(match: str, on: date, rating: int, follow_up: bool = False) -> None:
            s.add(CheckIn(organization_id=o, match_id=m[match], occurred_on=on, channel="phone",
                          rating=rating, follow_up=follow_up))  # fmt: skip

        check_in("A", d(2025, 1, 1), 5)
        check_in("A", d(2025, 6, 15), 4, follow_up=True)
        check_in("H", d(2025, 3, 1), 3, follow_up=True)
        check_in("H", d(2025, 3, 2), 2)
        check_in("C", d(2024, 12, 15), 1)

        def event(kind: str, starts: datetime, statuses: list[str]) -> None:
            e = IntakeEvent(organization_id=o, kind=kind, title=kind, starts_at=starts, programme_id=p1.id)
            s.add(e)
            return_people = list(people.values())
            pending.append((e, [(return_people[i], st) for i, st in enumerate(statuses)]))

        pending: list[tuple[IntakeEvent, list[tuple[Contact, str]]]] = []
        event("workshop", berlin(2025, 12, 31, 23, 30), ["present", "present", "absent"])
        event("outing", berlin(2026, 1, 1, 0, 30), ["present"])
        event("regulars", berlin(2025, 1, 1, 0, 10), ["confirmed"])
        await s.flush()
        for e, listed in pending:
            for c, st in listed:
                s.add(EventAttendee(organization_id=o, event_id=e.id, contact_id=c.id, status=st))

        forms = {}
        for audience in ("mentor", "mentee"):
            f = IntakeForm(organization_id=o, slug=f"{audience}-form", programme_id=p1.id, audience=audience,
                           title_de=audience, title_en=audience)  # fmt: skip
            s.add(f)
            forms[audience] = f
        await s.flush()

        def submission(audience: str, created: datetime, confirmed: datetime | None, who: str | None) -> None:
            s.add(
                IntakeSubmission(
                    organization_id=o, form_id=forms[audience].id, email=f"{secrets.token_hex(4)}@x.org",
                    locale="de", answers={}, consents=[], token_hash=_token(),
                    client_hash="0" * 64, status="confirmed" if confirmed else "pending",
                    contact_id=people[who].id if who else None, created_at=created, confirmed_at=confirmed,
                )
            )  # fmt: skip

        submission("mentor", berlin(2025, 3, 1, 10), berlin(2025, 3, 1, 11), "M5")
        submission("mentee", berlin(2025, 12, 31, 23, 59), berlin(2026, 1, 1, 0, 5), "W2")
        submission("mentee", berlin(2025, 6, 1, 9), None, None)
        submission("mentee", berlin(2024, 12, 31, 23), berlin(2025, 1, 1, 8), "E5")
        return History(p1.id, p2.id, m, {k: v.id for k, v in people.items()})
