"""The demo programme of `codo dev` (make run): one organisation in which every part of codo has
something to show on first sign-in.

About forty people of every kind and status with German names and real Cologne postal codes, tandems
in every state with a year of meetings and check-ins, a finished cohort run, tasks due today and
overdue, appointments this week, events with attendance, a public sign-up form with sign-ups waiting,
custom fields on contacts and tandems. Everything goes through the domain services with the dates
the services accept for the past (``on=…``), so the rows obey codo's rules; only what the services
always stamp with "now" (when a contact or a sign-up was created) is moved back afterwards, so
reports and charts have months of history.

It is created once: a demo organisation that already has contacts is left as it is. It is never
created in production.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import organizations
from shared.actor import Actor
from shared.contacts import fields as custom_fields
from shared.contacts import service as contacts
from shared.contacts import timeline
from shared.contacts.fields import FieldIn, FieldOption
from shared.contacts.models import Activity, Contact
from shared.contacts.schemas import ConsentIn, ContactIn
from shared.db import Database
from shared.intake import events, forms
from shared.intake.models import IntakeSubmission
from shared.intake.schemas import (
    AttendanceIn,
    AttendanceItem,
    ConsentText,
    EventIn,
    FormField,
    FormIn,
    InviteIn,
)
from shared.matching import matches, runs
from shared.matching.models import MatchField
from shared.matching.schemas import CheckInIn, MeetingIn, RunIn, TransitionIn
from shared.models import Membership, User
from shared.permissions import Role
from shared.reporting import benchmarks
from shared.tasks import appointments, tasks
from shared.tasks.schemas import AppointmentCreate, Priority, TaskCreate

SLUG = "demo"
NAME = "Lesepaten Musterstadt e.V."
CITY = "Köln"
BERLIN = ZoneInfo("Europe/Berlin")
# (e-mail, name, role): who can sign in to the demo.
MEMBERS = [
    ("anna.admin@example.org", "Anna Admin", "owner"),
    ("kemal.koordination@example.org", "Kemal Koordination", "coordinator"),
    ("lea.lernpaten@example.org", "Lea Lindner", "coordinator"),
    ("vera.vorstand@example.org", "Vera Vorstand", "viewer"),
    ("bernd.beirat@example.org", "Bernd Beirat", "reporter"),
]


class RefusedInProduction(RuntimeError):
    """The demo writes invented people into an organisation: never where real people's data lives."""


@dataclass
class Seeded:
    org_id: uuid.UUID
    created: bool
    contacts: int = 0
    matches: int = 0
    people: dict[str, uuid.UUID] = field(default_factory=dict)


# key: (first, last, kind, status, gender, birth year, postal code, languages, interests, availability,
#       programme, extra)
# Postal codes are Cologne's, from the table matching reads (shared/matching/data/plz_geocoord.csv).
R, L = "reading", "learning"
PEOPLE: dict[str, tuple[Any, ...]] = {
    # mentors
    "sabine": ("Sabine", "Krüger", "mentor", "ready", "female", 1961, "50733", ["de", "en"],
               ["Lesen", "Natur", "Kochen"], ["tue-afternoon", "thu-afternoon"], R, {"capacity": 2}),
    "thomas": ("Thomas", "Becker", "mentor", "ready", "male", 1984, "50823", ["de"],
               ["Fußball", "Mathe", "Schach"], ["wed-afternoon", "sat-morning"], L, {"capacity": 2}),
    "julia": ("Julia", "Schneider", "mentor", "ready", "female", 1996, "50674", ["de", "en", "es"],
              ["Lesen", "Malen", "Musik"], ["mon-afternoon", "thu-afternoon"], R, {}),
    "mehmet": ("Mehmet", "Yılmaz", "mentor", "ready", "male", 1979, "51063", ["de", "tr"],  # noqa: RUF001
               ["Fußball", "Kochen", "Technik"], ["fri-afternoon", "sat-morning"], L, {"capacity": 2}),
    "katharina": ("Katharina", "Wolf", "mentor", "ready", "female", 1955, "50937", ["de", "fr"],
                  ["Lesen", "Theater", "Natur"], ["tue-morning", "wed-afternoon"], R, {}),
    "lukas": ("Lukas", "Hoffmann", "mentor", "ready", "male", 2005, "50676", ["de", "en"],
              ["Basketball", "Gaming", "Mathe"], ["mon-afternoon", "wed-afternoon"], L, {}),
    "annalena": ("Anna-Lena", "Schulz", "mentor", "ready", "female", 2007, "50825", ["de", "en"],
                 ["Lesen", "Basteln", "Tanzen"], ["tue-afternoon", "fri-afternoon"], R, {}),
    "peter": ("Peter", "Fischer", "mentor", "ready", "male", 1950, "50968", ["de"],
              ["Schach", "Geschichte", "Natur"], ["mon-morning", "thu-morning"], R, {}),
    "maria": ("Maria", "Nowak", "mentor", "ready", "female", 1972, "51105", ["de", "pl", "ru"],
              ["Lesen", "Musik", "Kochen"], ["wed-afternoon", "thu-afternoon"], R, {}),
    "jonas": ("Jonas", "Weber", "mentor", "ready", "male", 1990, "50677", ["de", "en"],
              ["Fußball", "Lesen", "Musik"], ["tue-afternoon", "sat-morning"], R, {}),
    "fatma": ("Fatma", "Demir", "mentor", "ready", "female", 1988, "51065", ["de", "tr", "ar"],
              ["Malen", "Lesen", "Kochen"], ["mon-afternoon", "wed-afternoon"], R, {}),
    "christian": ("Christian", "Braun", "mentor", "ready", "male", 1968, "50939", ["de"],
                  ["Radfahren", "Technik", "Mathe"], ["thu-afternoon"], L, {}),
    "ingrid": ("Ingrid", "Lehmann", "mentor", "ready", "female", 1949, "50996", ["de"],
               ["Lesen", "Garten", "Handarbeit"], ["tue-morning", "fri-morning"], R, {}),
    "kevin": ("Kevin", "Schmitt", "mentor", "screening", "male", 1993, "50765", ["de"],
              ["Fußball", "Gaming"], ["sat-morning"], L, {}),
    "sophie": ("Sophie", "Zimmermann", "mentor", "interested", "female", 2000, "50672", ["de", "en", "fr"],
               ["Lesen", "Theater"], ["mon-afternoon"], R, {}),
    "tobias": ("Tobias", "Richter", "mentor", "new", "male", 1987, "50733", ["de"],
               ["Lesen", "Radfahren"], ["wed-afternoon"], R, {}),
    "birgit": ("Birgit", "Hartmann", "mentor", "declined", "female", 1966, "51069", ["de"],
               ["Basteln"], ["tue-afternoon"], R, {}),
    "heike": ("Heike", "Brandt", "mentor", "declined", "female", 1975, "50935", ["de"],
              ["Kochen"], ["fri-morning"], L, {}),
    "dominik": ("Dominik", "Keller", "mentor", "ready", "diverse", 1998, "50674", ["de", "en"],
                ["Lesen", "Musik", "Malen"], ["tue-afternoon", "thu-afternoon"], R, {}),
    "gerd": ("Gerd", "Albrecht", "mentor", "ready", "not_stated", 1958, "50827", ["de"],
             ["Geschichte", "Lesen"], ["wed-morning"], R, {}),
    # mentees (children of primary and lower secondary school age)
    "leon": ("Leon", "Bauer", "mentee", "ready", "male", 2016, "50733", ["de"],
             ["Fußball", "Lesen"], ["tue-afternoon", "thu-afternoon"], R, {}),
    "mia": ("Mia", "Schäfer", "mentee", "ready", "female", 2017, "50735", ["de"],
            ["Malen", "Natur"], ["tue-afternoon"], R, {}),
    "elias": ("Elias", "Koch", "mentee", "ready", "male", 2014, "50827", ["de", "en"],
              ["Mathe", "Fußball"], ["wed-afternoon", "fri-afternoon"], L, {}),
    "emilia": ("Emilia", "Neumann", "mentee", "ready", "female", 2016, "50677", ["de"],
               ["Lesen", "Musik"], ["mon-afternoon"], R, {}),
    "noah": ("Noah", "Schwarz", "mentee", "ready", "male", 2015, "50935", ["de"],
             ["Theater", "Lesen"], ["wed-afternoon"], R, {}),
    "amira": ("Amira", "Haddad", "mentee", "ready", "female", 2013, "50679", ["de", "ar"],
              ["Mathe", "Basketball"], ["mon-afternoon", "wed-afternoon"], L, {}),
    "yusuf": ("Yusuf", "Öztürk", "mentee", "ready", "male", 2016, "50969", ["de", "tr"],
              ["Schach", "Natur"], ["mon-morning", "thu-afternoon"], R, {}),
    "lina": ("Lina", "Krause", "mentee", "ready", "female", 2017, "50672", ["de"],
             ["Lesen", "Musik"], ["tue-afternoon"], R, {}),
    "ben": ("Ben", "Schröder", "mentee", "ready", "male", 2015, "50999", ["de"],
            ["Garten", "Lesen"], ["tue-morning"], R, {}),
    "hannah": ("Hannah", "Meier", "mentee", "ready", "female", 2013, "50939", ["de"],
               ["Technik", "Mathe"], ["thu-afternoon"], L, {}),
    "paul": ("Paul", "Lange", "mentee", "ready", "male", 2017, "50825", ["de"],
             ["Basteln", "Lesen"], ["tue-afternoon", "fri-afternoon"], R, {}),
    "emma": ("Emma", "Vogel", "mentee", "ready", "female", 2014, "50823", ["de"],
             ["Schach", "Mathe"], ["wed-afternoon"], L, {}),
    "sofia": ("Sofia", "Ivanova", "mentee", "ready", "female", 2015, "51103", ["de", "ru", "uk"],
              ["Musik", "Lesen"], ["wed-afternoon", "thu-afternoon"], R, {}),
    "zeynep": ("Zeynep", "Arslan", "mentee", "ready", "female", 2016, "51065", ["de", "tr"],
               ["Malen", "Lesen"], ["mon-afternoon"], R, {}),
    "milan": ("Milan", "Petrović", "mentee", "ready", "male", 2015, "50676", ["de", "sr"],
              ["Musik", "Lesen"], ["tue-afternoon", "thu-afternoon"], R, {}),
    "finn": ("Finn", "Jung", "mentee", "ready", "male", 2016, "50674", ["de"],
             ["Malen", "Lesen"], ["tue-afternoon"], R, {}),
    "leni": ("Leni", "Hahn", "mentee", "ready", "female", 2017, "50733", ["de", "en"],
             ["Natur", "Lesen"], ["tue-afternoon", "thu-afternoon"], R, {}),
    "karim": ("Karim", "Mansour", "mentee", "ready", "male", 2014, "51063", ["de", "ar"],
              ["Fußball", "Kochen"], ["fri-afternoon", "sat-morning"], L, {}),
    "clara": ("Clara", "Schulte", "mentee", "interested", "female", 2016, "50937", ["de"],
              ["Tanzen"], ["mon-afternoon"], R, {}),
    "jan": ("Jan", "Kowalski", "mentee", "screening", "male", 2015, "51105", ["de", "pl"],
            ["Fußball"], ["wed-afternoon"], R, {}),
    "oskar": ("Oskar", "Frank", "mentee", "new", "male", 2017, "50968", ["de"],
              ["Lesen"], ["thu-afternoon"], R, {}),
    # families and partners
    "nadia": ("Nadia", "Haddad", "guardian", "interested", "female", 1985, "50679", ["de", "ar", "fr"],
              [], [], L, {}),
    "aylin": ("Aylin", "Öztürk", "guardian", "interested", "female", 1989, "50969", ["de", "tr"],
              [], [], R, {}),
    "markus": ("Markus", "Bauer", "guardian", "interested", "male", 1982, "50733", ["de"], [], [], R, {}),
    "bibliothek": ("Petra", "Sommer", "partner", "interested", "female", 1970, "50823", ["de"], [], [], R,
                   {"organisation_name": "Stadtbibliothek Köln, Zweigstelle Ehrenfeld"}),
    "schule": ("Frank", "Wagner", "partner", "interested", "male", 1965, "50733", ["de"], [], [], R,
               {"organisation_name": "Katholische Grundschule Nippes"}),
}  # fmt: skip

# Who waits since when (days ago), for the mentees still waiting and the sign-ups.
WAITING = {"milan": 150, "finn": 80, "leni": 40, "karim": 200, "zeynep": 12, "lina": 20}
# Mentees who go to a school the custom field knows.
SCHOOLS = {"leon": "kgs_nippes", "mia": "kgs_nippes", "lina": "kgs_nippes", "paul": "ggs_ehrenfeld",
           "noah": "ggs_ehrenfeld", "emilia": "ggs_ehrenfeld", "finn": "kgs_nippes"}  # fmt: skip

# (mentor, mentee, funder, steps): a step is (status, days ago[, end reason[, mentee afterwards]]).
TANDEMS: list[tuple[str, str, str, list[tuple[Any, ...]]]] = [
    ("sabine", "leon", "stadt", [("proposed", 420), ("introduced", 410), ("active", 400)]),
    ("sabine", "mia", "stiftung", [("proposed", 300), ("introduced", 292), ("active", 285),
                                   ("ended", 100, "goal_reached")]),
    ("thomas", "elias", "stadt", [("proposed", 365), ("introduced", 352), ("active", 345),
                                  ("ended", 150, "moved_away", "ready")]),
    ("mehmet", "elias", "stadt", [("proposed", 120), ("introduced", 113), ("active", 105)]),
    ("julia", "emilia", "spenden", [("proposed", 240), ("introduced", 232), ("active", 225)]),
    ("katharina", "noah", "stiftung", [("proposed", 200), ("introduced", 192), ("active", 186)]),
    ("lukas", "amira", "stadt", [("proposed", 150), ("introduced", 143), ("active", 135)]),
    ("peter", "yusuf", "stiftung", [("proposed", 330), ("introduced", 322), ("active", 315), ("paused", 40)]),
    ("maria", "sofia", "spenden", [("proposed", 90), ("introduced", 84), ("active", 77)]),
    ("ingrid", "ben", "stadt", [("proposed", 390), ("introduced", 383), ("active", 376),
                                ("ended", 200, "no_time")]),
    ("christian", "hannah", "stiftung", [("proposed", 270), ("introduced", 262), ("active", 255),
                                         ("ended", 30, "conflict")]),
    ("annalena", "paul", "spenden", [("proposed", 45), ("introduced", 38), ("active", 30)]),
    ("thomas", "emma", "stadt", [("proposed", 130), ("introduced", 124), ("active", 118)]),
    ("jonas", "lina", "stiftung", [("proposed", 16), ("introduced", 10)]),
    ("fatma", "zeynep", "stadt", [("proposed", 5)]),
]  # fmt: skip
# Tandems whose check-ins stopped: they show up as overdue.
QUIET = {("julia", "emilia"): 55}
ACTIVITIES = ["Vorlesen in der Stadtbibliothek", "Hausaufgaben und Lesen", "Spaziergang im Stadtwald",
              "Besuch im Zoo", "Brettspiele und Lesen", "Museum Ludwig", "Bücherflohmarkt"]  # fmt: skip
NOTES = ["Läuft gut, beide freuen sich auf die Treffen.", "Lesefortschritt deutlich zu merken.",
         "Terminfindung schwierig wegen Ferien.", "Mentee wirkt offener als zu Beginn."]  # fmt: skip


def _refuse_production(env: str) -> None:
    if env == "production":
        raise RefusedInProduction("the demo programme is never created in production (CODO_ENV=production)")


def _today() -> date:
    return datetime.now(BERLIN).date()


async def _memberships(session: AsyncSession, org_id: uuid.UUID) -> dict[str, Membership]:
    rows = await session.execute(select(Membership, User.email).join(User, User.id == Membership.user_id))
    found = {email: m for m, email in rows}
    for email, name, role in MEMBERS:
        if email not in found:
            found[email] = await organizations.add_member(session, org_id, email, role, display_name=name)
    return found


async def ensure_organisation(db: Database, env: str, slug: str = SLUG) -> uuid.UUID:
    """The demo organisation and its members (kept between runs)."""
    _refuse_production(env)
    async with db.platform() as session:
        org = await organizations.get_by_slug(session, slug)
        if org is None:
            org = await organizations.create_organization(session, slug, NAME)
        org_id = org.id
    async with db.tenant(org_id) as session:
        await _memberships(session, org_id)
    return org_id


async def seed(
    db: Database, env: str, *, slug: str = SLUG, public_url: str = "", today: date | None = None
) -> Seeded:
    """Create the demo programme once; a second call finds it and changes nothing."""
    _refuse_production(env)
    today = today or _today()
    org_id = await ensure_organisation(db, env, slug)
    async with db.tenant(org_id) as session:
        existing = (await session.execute(select(func.count()).select_from(Contact))).scalar_one()
        if existing:
            return Seeded(org_id, created=False, contacts=existing)
        members = await _memberships(session, org_id)
        builder = _Builder(session, org_id, slug, members, today, public_url)
        await builder.build()
        run_id = builder.run_id
        result = Seeded(org_id, True, len(builder.people), len(builder.matches), dict(builder.people))
    # The cohort run is computed as the worker would, once the run is committed.
    await runs.execute(db, org_id, run_id, today=today)
    return result


class _Builder:
    def __init__(
        self,
        session: AsyncSession,
        org_id: uuid.UUID,
        slug: str,
        members: dict[str, Membership],
        today: date,
        public_url: str,
    ) -> None:
        self.s = session
        self.org_id = org_id
        self.today = today
        self.members = members
        coordinator = members["kemal.koordination@example.org"]
        self.actor = Actor(
            role=Role.COORDINATOR,
            label="kemal.koordination@example.org",
            user_id=coordinator.user_id,
            membership_id=coordinator.id,
            org_id=org_id,
            slug=slug,
            public_url=public_url,
        )
        self.people: dict[str, uuid.UUID] = {}
        self.matches: dict[tuple[str, str], uuid.UUID] = {}
        self.programmes: dict[str, uuid.UUID] = {}
        self.run_id: uuid.UUID = uuid.UUID(int=0)

    def ago(self, days: int) -> date:
        return self.today - timedelta(days=days)

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), BERLIN)

    async def build(self) -> None:
        await self.programmes_and_fields()
        await self.contacts()
        await self.tandems()
        await self.accompaniment()
        await self.tasks_and_appointments()
        await self.events()
        await self.sign_ups()
        await self.cohort_run()
        await self.backdate()

    async def programmes_and_fields(self) -> None:
        for key, name, kind in (("reading", "Lesepatenschaften", "reading"),
                                ("learning", "Lernpatenschaften", "school")):  # fmt: skip
            programme = await contacts.create_programme(self.s, self.org_id, name)
            await benchmarks.set_programme_kind(self.s, programme.id, kind)
            self.programmes[key] = programme.id
        await benchmarks.set_opt_in(self.s, self.org_id, True)
        await custom_fields.create_field(
            self.s, self.org_id,
            FieldIn(key="schule", label_de="Schule", label_en="School", type="choice", options=[
                FieldOption("kgs_nippes", "Katholische Grundschule Nippes", "Catholic primary school"),
                FieldOption("ggs_ehrenfeld", "Gemeinschaftsgrundschule Ehrenfeld", "Primary school"),
            ]),
        )  # fmt: skip
        await custom_fields.create_field(
            self.s, self.org_id,
            FieldIn(key="foerderer", label_de="Förderer", label_en="Funder", type="choice", options=[
                FieldOption("stadt", "Stadt Köln", "City of Cologne"),
                FieldOption("stiftung", "Bürgerstiftung", "Community foundation"),
                FieldOption("spenden", "Spenden", "Donations"),
            ]),
            model=MatchField,
        )  # fmt: skip
        await custom_fields.create_field(
            self.s, self.org_id,
            FieldIn(key="vereinbarung_am", label_de="Vereinbarung unterschrieben am",
                    label_en="Agreement signed on", type="date"),
            model=MatchField,
        )  # fmt: skip

    async def contacts(self) -> None:
        owners = [self.members[e].id for e in ("kemal.koordination@example.org", "lea.lernpaten@example.org")]
        for n, (key, row) in enumerate(PEOPLE.items()):
            first, last, kind, status, gender, year, plz, langs, interests, avail, programme, extra = row
            adult = kind != "mentee"
            email = None
            if adult:
                local = f"{first}.{last}".lower().replace("ö", "oe").replace("ü", "ue").replace("ä", "ae")
                email = f"{local.replace('ı', 'i').replace('ć', 'c')}@example.org"  # noqa: RUF001
            custom = {"schule": SCHOOLS[key]} if key in SCHOOLS else {}
            waiting = self.ago(WAITING[key]) if key in WAITING else None
            if kind == "mentee" and status == "ready" and waiting is None:
                waiting = self.ago(400)
            data = ContactIn(
                kinds=[kind],
                first_name=first,
                last_name=last,
                organisation_name=extra.get("organisation_name"),
                birth_date=date(year, 1 + n % 12, 1 + (n * 7) % 28),
                gender=gender,
                languages=langs,
                postal_code=plz,
                city=CITY,
                email=email,
                phone=f"0221 {4000000 + n * 7919}" if adult else None,
                preferred_channel="email" if adult else None,
                status="declined" if status == "declined" else status,
                owner_membership_id=owners[0] if programme == R else owners[1],
                interests=interests,
                availability=avail,
                capacity=extra.get("capacity", 1),
                waiting_since=waiting,
                custom=custom,
                programme_ids=[self.programmes[programme]],
            )
            created = await contacts.create_contact(self.s, self.org_id, data)
            self.people[key] = created.id
        # One person was kept away from children, by an admin, with a reason.
        birgit = await contacts.get_contact(self.s, self.people["birgit"], for_update=True)
        await contacts.protect_status(
            self.s, birgit, "declined_child_protection", "Eintrag im erweiterten Führungszeugnis",
            admin=True, actor="Anna Admin",
        )  # fmt: skip
        birgit.status = "declined_child_protection"
        # Consents as the sign-up forms and the first talks record them; two people are still missing
        # theirs, which their pages point out.
        joined = self.joined()
        for key, contact_id in self.people.items():
            if key in ("oskar", "clara"):
                continue
            child = PEOPLE[key][2] == "mentee"
            purposes = ["data_processing"] + ([] if child else ["contact_by_email"])
            for purpose in purposes:
                await timeline.record_consent(
                    self.s, contact_id, self.actor,
                    ConsentIn(purpose=purpose, status="given", effective_on=min(joined[key], self.today),
                              given_by="Erziehungsberechtigte" if child else None,
                              evidence="Anmeldebogen, unterschrieben" if child else "Anmeldeformular"),
                )  # fmt: skip
        for guardian, child in (("nadia", "amira"), ("aylin", "yusuf"), ("markus", "leon")):
            await contacts.add_link(self.s, self.people[guardian], self.people[child], "guardian_of")
        for partner, person in (("bibliothek", "sabine"), ("schule", "leon")):
            await contacts.add_link(self.s, self.people[partner], self.people[person], "contact_person_of")
        for n, key in enumerate(("sabine", "tobias", "kevin", "milan", "amira")):
            self.s.add(
                Activity(
                    organization_id=self.org_id, contact_id=self.people[key], kind=("call", "note")[n % 2],
                    occurred_at=self.at(self.ago(10 + n * 9), 10),
                    author_membership_id=self.actor.membership_id, author_name="Kemal Koordination",
                    body=["Telefonat: freut sich auf die Sommerpause, danach weiter wie bisher.",
                          "Anmeldung über das Formular, Erstgespräch steht noch aus.",
                          "Führungszeugnis angefordert, Unterlagen kommen per Post.",
                          "Wartet seit dem Frühjahr, Familie fragt regelmäßig nach.",
                          "Mutter spricht Arabisch und Französisch; Termine über sie abstimmen."][n],
                )
            )  # fmt: skip
        await self.s.flush()

    async def tandems(self) -> None:
        for mentor, mentee, funder, steps in TANDEMS:
            programme = PEOPLE[mentee][10]
            status, days = steps[0][0], steps[0][1]
            out = await matches.propose(
                self.s,
                mentor_id=self.people[mentor],
                mentee_id=self.people[mentee],
                programme_id=self.programmes[programme],
                actor=self.actor,
                today=self.today,
                on=self.ago(days),
                custom={"foerderer": funder},
            )
            self.matches[(mentor, mentee)] = out.id
            for step in steps[1:]:
                to, days = step[0], step[1]
                data = TransitionIn(
                    to=to,
                    on=self.ago(days),
                    reason=step[2] if len(step) > 2 else None,
                    mentee_next=step[3] if len(step) > 3 else "alumni",
                )
                await matches.transition(self.s, out.id, data, actor=self.actor, today=self.today)
                if to == "active":
                    await matches.set_custom(self.s, out.id, {"vereinbarung_am": self.ago(days).isoformat()})
        # After their last tandem ended, one mentor left and one takes a break.
        for key, status in (("ingrid", "alumni"), ("christian", "paused")):
            person = await contacts.get_contact(self.s, self.people[key], for_update=True)
            person.status = status

    async def accompaniment(self) -> None:
        for mentor, mentee, _funder, steps in TANDEMS:
            dates = {s[0]: self.ago(s[1]) for s in steps}
            if "introduced" not in dates:
                continue
            match_id = self.matches[(mentor, mentee)]
            start = dates["introduced"]
            end = dates.get("ended") or dates.get("paused") or self.today
            seed = len(mentor) + len(mentee)
            day, n = start + timedelta(days=3), 0
            while day <= end and (day < self.today or (day == self.today and "ended" not in dates)):
                minutes = (60, 90, 120, 45)[(seed + n) % 4]
                await matches.add_meeting(
                    self.s, match_id,
                    MeetingIn(on=day, duration_minutes=minutes, volunteer_minutes=minutes + 30,
                              activity=ACTIVITIES[(seed + n) % len(ACTIVITIES)],
                              reported_by=("mentor", "both", "coordinator")[n % 3]),
                    today=self.today,
                )  # fmt: skip
                day += timedelta(days=12 + (seed + n) % 6)
                n += 1
            quiet = QUIET.get((mentor, mentee), 0)
            day, n = start + timedelta(days=21), 0
            while day <= min(end, self.ago(quiet) if quiet else end) and day <= self.today:
                rating = (5, 4, 4, 3, 5, 2)[(seed + n) % 6]
                # Only recent worries still ask for a follow-up: older ones were followed up long
                # ago, and a dozen identical "follow up" tasks due today bury the day's real work.
                follow_up = rating <= 2 and day >= self.ago(42)
                await matches.add_checkin(
                    self.s, match_id,
                    CheckInIn(on=day, channel=("phone", "in_person", "video", "email")[n % 4], rating=rating,
                              notes=NOTES[(seed + n) % len(NOTES)], follow_up=follow_up),
                    actor=self.actor, today=self.today,
                )  # fmt: skip
                day += timedelta(days=28 + (seed + n) % 10)
                n += 1

    async def tasks_and_appointments(self) -> None:
        kemal = self.members["kemal.koordination@example.org"].id
        lea = self.members["lea.lernpaten@example.org"].id
        anna = self.members["anna.admin@example.org"].id
        p, m = self.people, self.matches
        # (title, due in days, assignee, priority, contact, tandem)
        todo: list[tuple[str, int, uuid.UUID, Priority, uuid.UUID | None, uuid.UUID | None]] = [
            ("Erstgespräch mit Tobias Richter vereinbaren", 0, kemal, "high", p["tobias"], None),
            ("Zwischenbericht für die Bürgerstiftung schreiben", 0, kemal, "normal", None, None),
            ("Lernpat:innen-Treffen vorbereiten", 0, lea, "normal", None, None),
            ("Führungszeugnis von Kevin Schmitt einsehen", -6, kemal, "high", p["kevin"], None),
            ("Nachfassen: Tandem Julia Schneider / Emilia Neumann", -3, kemal, "normal", None,
             m[("julia", "emilia")]),
            ("Rückmeldung der Familie Öztürk einholen", -9, lea, "normal", p["aylin"], None),
            ("Wartende Mentee:s anrufen", 2, kemal, "normal", None, None),
            ("Kennenlerntreffen Fatma Demir / Zeynep Arslan planen", 3, kemal, "high", None,
             m[("fatma", "zeynep")]),
            ("Bücherspende der Stadtbibliothek abholen", 6, anna, "low", p["bibliothek"], None),
        ]  # fmt: skip
        now = datetime.now(UTC)
        for title, due, assignee, priority, contact_id, match_id in todo:
            await tasks.create_task(
                self.s, self.actor,
                TaskCreate(title=title, due_date=self.today + timedelta(days=due), assignee_id=assignee,
                           priority=priority, contact_id=contact_id, match_id=match_id),
                now,
            )  # fmt: skip
        await tasks.create_task(
            self.s, self.actor,
            TaskCreate(title="Monatliche Check-in-Runde", due_date=self.today + timedelta(days=4),
                       assignee_id=kemal, recurrence="FREQ=MONTHLY"),
            now,
        )  # fmt: skip
        done = await tasks.create_task(
            self.s, self.actor,
            TaskCreate(title="Newsletter an alle Pat:innen verschicken", due_date=self.ago(2),
                       assignee_id=kemal),
            now,
        )  # fmt: skip
        await tasks.complete_task(self.s, self.actor, done.id, now)

        monday = self.today - timedelta(days=self.today.weekday())
        planned = [
            ("Kennenlerntreffen Jonas Weber und Lina Krause", self.today, 16, 60, "Stadtbibliothek Ehrenfeld",
             [p["jonas"], p["lina"]], m[("jonas", "lina")]),
            ("Teamsitzung Koordination", monday + timedelta(days=1), 10, 90, "Vereinsbüro", [], None),
            ("Gespräch mit der Grundschule Nippes", monday + timedelta(days=3), 14, 60,
             "Katholische Grundschule Nippes", [p["schule"]], None),
            ("Telefonat mit Nadia Haddad", self.today + timedelta(days=1), 9, 30, "", [p["nadia"]], None),
        ]  # fmt: skip
        for title, day, hour, minutes, where, contact_ids, match_id in planned:
            starts = datetime.combine(day, time(hour))
            await appointments.create(
                self.s, self.actor,
                AppointmentCreate(title=title, starts_at=starts, ends_at=starts + timedelta(minutes=minutes),
                                  timezone="Europe/Berlin", location=where, member_ids=[kemal, lea],
                                  contact_ids=contact_ids, match_id=match_id),
            )  # fmt: skip

    async def events(self) -> None:
        p = self.people
        past = await events.create_event(
            self.s,
            EventIn(kind="regulars", title="Pat:innen-Stammtisch", starts_at=self.at(self.ago(18), 19),
                    ends_at=self.at(self.ago(18), 21), location="Café Ehrenfeld",
                    programme_id=self.programmes["reading"]),
        )  # fmt: skip
        guests = ["sabine", "julia", "katharina", "maria", "jonas", "annalena", "dominik", "peter"]
        await events.invite(self.s, past.id, InviteIn([p[g] for g in guests]))
        attendance = ["present", "present", "absent", "present", "present", "confirmed", "present", "absent"]
        await events.set_attendance(
            self.s, past.id,
            AttendanceIn([AttendanceItem(p[g], st) for g, st in zip(guests, attendance, strict=True)]),
        )  # fmt: skip
        workshop = await events.create_event(
            self.s,
            EventIn(kind="workshop", title="Vorlesen mit allen Sinnen", starts_at=self.at(self.ago(75), 10),
                    ends_at=self.at(self.ago(75), 15), location="Stadtbibliothek Köln",
                    programme_id=self.programmes["reading"]),
        )  # fmt: skip
        guests = ["sabine", "katharina", "fatma", "ingrid", "peter"]
        await events.invite(self.s, workshop.id, InviteIn([p[g] for g in guests]))
        await events.set_attendance(
            self.s, workshop.id,
            AttendanceIn([AttendanceItem(p[g], "absent" if i == 3 else "present")
                          for i, g in enumerate(guests)]),
        )  # fmt: skip
        training = await events.create_event(
            self.s,
            EventIn(kind="training", title="Schulung: Kinderschutz für neue Pat:innen",
                    starts_at=self.at(self.today + timedelta(days=12), 18),
                    ends_at=self.at(self.today + timedelta(days=12), 20, 30), location="Vereinsbüro",
                    description="Pflichtschulung vor dem ersten Treffen."),
        )  # fmt: skip
        guests = ["kevin", "sophie", "dominik", "annalena"]
        await events.invite(self.s, training.id, InviteIn([p[g] for g in guests]))
        await events.set_attendance(
            self.s, training.id, AttendanceIn([AttendanceItem(p["dominik"], "confirmed")])
        )

    async def sign_ups(self) -> None:
        # A public form goes live only with the legal pages it links to.
        await organizations.set_legal_pages(
            self.s, self.org_id,
            organizations.LegalPages(privacy_url="https://example.org/datenschutz",
                                     imprint_url="https://example.org/impressum"),
        )  # fmt: skip
        form = await forms.create_form(
            self.s,
            FormIn(
                slug="pate-werden", programme_id=self.programmes["reading"], audience="mentor",
                title_de="Lesepat:in werden", title_en="Become a reading mentor",
                intro_de="Eine Stunde pro Woche, ein Kind, viele Geschichten. Wir melden uns bei Ihnen.",
                intro_en="One hour a week, one child, many stories. We will get in touch.",
                fields=[FormField("phone"), FormField("postal_code", required=True), FormField("birth_date")],
                consents=[ConsentText(
                    purpose="data_processing", version="2026-01",
                    text_de="Ich bin einverstanden, dass der Verein meine Angaben für die Vermittlung "
                            "speichert.",
                    text_en="I agree that the association keeps my details to find me a tandem.",
                )],
                coordinator_id=self.members["kemal.koordination@example.org"].id,
            ),
            self.actor.slug, self.actor.public_url,
        )  # fmt: skip

        def submission(email: str, created: datetime, contact: str | None, first: str, last: str) -> None:
            confirmed = contact is not None
            self.s.add(
                IntakeSubmission(
                    organization_id=self.org_id, form_id=form.id, email=email, locale="de",
                    answers={"first_name": first, "last_name": last, "email": email, "postal_code": "50733",
                             "form_of_address": "sie"},
                    consents=[{"purpose": "data_processing", "version": "2026-01", "lang": "de",
                               "text": "Ich bin einverstanden, dass der Verein meine Angaben speichert."}],
                    token_hash=hashlib.sha256(secrets.token_bytes(16)).digest(), client_hash="0" * 64,
                    status="confirmed" if confirmed else "pending",
                    contact_id=self.people[contact] if contact else None, created_at=created,
                    confirmed_at=created + timedelta(minutes=20) if confirmed else None,
                )
            )  # fmt: skip

        now = datetime.now(UTC)
        submission("tobias.richter@example.org", now - timedelta(days=3), "tobias", "Tobias", "Richter")
        submission("dominik.keller@example.org", now - timedelta(days=160), "dominik", "Dominik", "Keller")
        submission(
            "sophie.zimmermann@example.org", now - timedelta(days=45), "sophie", "Sophie", "Zimmermann"
        )
        # Not confirmed yet: the e-mail link was sent an hour ago.
        submission("henrike.lorenz@example.org", now - timedelta(hours=1), None, "Henrike", "Lorenz")
        await self.s.flush()

    async def cohort_run(self) -> None:
        run = await runs.create_run(
            self.s, RunIn(programme_id=self.programmes["reading"]), actor=self.actor, today=self.today
        )
        self.run_id = run.id

    def joined(self) -> dict[str, date]:
        """When people joined: as long before their first tandem as people usually wait."""
        joined: dict[str, date] = {}
        for mentor, mentee, _f, steps in TANDEMS:
            first = self.ago(steps[0][1])
            for key in (mentor, mentee):
                joined[key] = min(joined.get(key, first), first - timedelta(days=21 + len(key) * 3))
        for key in WAITING:
            joined.setdefault(key, self.ago(WAITING[key] + 14))
        for n, key in enumerate(PEOPLE):
            joined.setdefault(key, self.ago(30 + (n * 37) % 300))
        return joined

    async def backdate(self) -> None:
        """The services stamp a new contact with today; the demo's people joined over the last
        year and a half, so the figures of earlier months are not empty."""
        joined = self.joined()
        # Whose status the tandems changed keep the day of that change.
        waited = {key for mentor, mentee, _f, _s in TANDEMS for key in (mentor, mentee)} | set(WAITING)
        for n, key in enumerate(self.people):
            stamp = self.at(joined[key], 9 + n % 8)
            changed = Contact.status_changed_at if key in waited else stamp
            await self.s.execute(
                update(Contact)
                .where(Contact.id == self.people[key])
                .values(created_at=stamp, status_changed_at=changed)
            )
        await self.s.flush()
