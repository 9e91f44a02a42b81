"""Public sign-up forms: settings, submission with spam protection, double opt-in, purge.

A visitor needs no account. The form page carries a signed time stamp, good for one submission: a
submission that comes back faster than a person can type, with a stamp already spent, or with the
hidden honeypot field filled, is refused. Each
e-mail address and each network address may submit only a few times an hour. The submission
waits, with its answers and the consents exactly as shown, until the link in the confirmation
e-mail is followed; only then are the contact (status "new" in its intake profile), its consents,
its programme and a task for the responsible coordinator created. What is not confirmed in time
is deleted.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from msgspec import UnsetType
from sqlalchemy import ColumnElement, and_, delete, exists, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock, history, i18n, outbox
from shared.actor import Actor
from shared.contacts import fields as custom_fields
from shared.contacts import service as contacts
from shared.contacts import timeline
from shared.contacts.models import Consent, CustomField, Programme
from shared.contacts.parsing import parse_date, parse_language, split_list
from shared.contacts.schemas import ConsentIn, ContactIn
from shared.contacts.vocab import EMAIL_RE, GENDERS, PHONE_RE, POSTAL_RE, normalize_email
from shared.db import Database, current_org
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.i18n import N_
from shared.intake import mail, vocab
from shared.intake.models import IntakeForm, IntakeProfile, IntakeSubmission
from shared.intake.schemas import ConsentText, FormField, FormIn, FormOut, FormPatch
from shared.models import Membership, Organization
from shared.organizations import require_legal_pages
from shared.permissions import Role
from shared.tasks import notify, tasks
from shared.tasks.schemas import TaskCreate

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
PURPOSE_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
# A person needs at least this long to fill in a form; bots are faster.
MIN_FILL_SECONDS = 3
MAX_FORM_AGE = timedelta(days=1)
PER_EMAIL_PER_HOUR = 3
PER_CLIENT_PER_HOUR = 10
MAX_CONSENT_TEXT = 1500
# The task a confirmed sign-up opens for the form's coordinator.
_NEW_TITLE = N_("New sign-up: %(name)s")
_NEW_FORM = N_("Form: %(title)s")
_NEW_EMAIL = N_("E-mail: %(email)s")
_NEW_FOR_CHILD = N_("Signed up by: %(name)s (parent or guardian)")
_NEW_MESSAGE = N_("Message: %(message)s")
_NEW_DUPLICATE = N_("Note: a similar contact exists already.")

# Standard contact fields a form may ask for: labels, input type, autocomplete.
STANDARD_FIELDS: dict[str, tuple[str, str, str]] = {
    "phone": (N_("Phone"), "tel", "tel"),
    "birth_date": (N_("Date of birth"), "date", "bday"),
    "postal_code": (N_("Postcode"), "text", "postal-code"),
    "city": (N_("Town or city"), "text", "address-level2"),
    "gender": (N_("Gender"), "select", "sex"),
    "languages": (N_("Languages (e.g. German, Arabic)"), "text", "off"),
    "message": (N_("Your message to us"), "textarea", "off"),
}
REFUSALS = {
    "honeypot": N_("That did not work."),
    "stale": N_("The page was open too long. Please send the form again."),
    "too_fast": N_("That was very fast. Please check your entries and send again."),
    "used": N_("This form has already been sent. Please reload the page to send another sign-up."),
    "rate": N_("Many sign-ups came from this address just now. Please try again later."),
}
GENDER_LABELS = {
    "female": N_("female"),
    "male": N_("male"),
    "diverse": N_("diverse"),
    "not_stated": N_("prefer not to say"),
}


# ---------------------------------------------------------------- settings


def public_path(org_slug: str, form_slug: str) -> str:
    return f"/f/{org_slug}/{form_slug}"


def embed_html(url: str, title: str) -> str:
    """The snippet an organisation pastes into its website: every value escaped as an attribute."""
    src = html.escape(f"{url}?embed=1", quote=True)
    return (
        f'<iframe src="{src}" title="{html.escape(title, quote=True)}" loading="lazy" '
        'style="width:100%;min-height:60rem;border:0"></iframe>'
    )


async def _counts(session: AsyncSession, form_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
    counts = {fid: {"pending": 0, "confirmed": 0} for fid in form_ids}
    rows = await session.execute(
        select(IntakeSubmission.form_id, IntakeSubmission.status, func.count())
        .where(IntakeSubmission.form_id.in_(form_ids))
        .group_by(IntakeSubmission.form_id, IntakeSubmission.status)
    )
    for form_id, status, n in rows:
        counts[form_id][status] = n
    return counts


def form_out(form: IntakeForm, org_slug: str, public_url: str, counts: dict[str, int]) -> FormOut:
    url = public_url.rstrip("/") + public_path(org_slug, form.slug)
    return FormOut(
        id=form.id,
        slug=form.slug,
        programme_id=form.programme_id,
        audience=form.audience,
        title_de=form.title_de,
        title_en=form.title_en,
        intro_de=form.intro_de,
        intro_en=form.intro_en,
        fields=[msgspec.convert(f, FormField) for f in form.fields],
        consents=[msgspec.convert(c, ConsentText) for c in form.consents],
        coordinator_id=form.coordinator_membership_id,
        active=form.active,
        confirm_within_hours=form.confirm_within_hours,
        url=url,
        embed_html=embed_html(url, form.title_de),
        pending=counts.get("pending", 0),
        confirmed=counts.get("confirmed", 0),
    )


async def get_form(session: AsyncSession, form_id: uuid.UUID) -> IntakeForm:
    form = (await session.execute(select(IntakeForm).where(IntakeForm.id == form_id))).scalar_one_or_none()
    if form is None:
        raise NotFound("no such form")
    return form


async def list_forms(session: AsyncSession, org_slug: str, public_url: str) -> list[FormOut]:
    forms = list((await session.execute(select(IntakeForm).order_by(IntakeForm.slug))).scalars())
    counts = await _counts(session, [f.id for f in forms])
    return [form_out(f, org_slug, public_url, counts[f.id]) for f in forms]


async def read_form(session: AsyncSession, form_id: uuid.UUID, org_slug: str, public_url: str) -> FormOut:
    form = await get_form(session, form_id)
    return form_out(form, org_slug, public_url, (await _counts(session, [form.id]))[form.id])


def _required_text(value: str, name: str, limit: int) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise ValidationFailed("cannot be empty", field=name)
    if len(cleaned) > limit:
        raise ValidationFailed("at most %(limit)s characters", field=name, limit=limit)
    return cleaned


async def _check_fields(session: AsyncSession, items: list[FormField]) -> list[dict[str, Any]]:
    custom = {f.key for f in await custom_fields.list_fields(session)}
    seen: set[str] = set()
    result = []
    for n, item in enumerate(items):
        key = item.key
        known = key in STANDARD_FIELDS or (
            key.startswith("custom.") and key.removeprefix("custom.") in custom
        )
        if not known:
            raise ValidationFailed(
                "not a field a form can ask for: %(key)r (standard: "
                "%(standard_fields)s; custom fields as custom.<key>)",
                field=f"fields[{n}].key",
                key=key,
                standard_fields=", ".join(STANDARD_FIELDS),
            )
        if key in seen:
            raise ValidationFailed("asked twice", field=f"fields[{n}].key")
        seen.add(key)
        result.append({"key": key, "required": item.required})
    return result


def _check_consents(items: list[ConsentText]) -> list[dict[str, Any]]:
    purposes: set[str] = set()
    result = []
    for n, c in enumerate(items):
        if not PURPOSE_RE.match(c.purpose):
            raise ValidationFailed("a short key such as data_processing", field=f"consents[{n}].purpose")
        if c.purpose in purposes:
            raise ValidationFailed("asked twice", field=f"consents[{n}].purpose")
        purposes.add(c.purpose)
        result.append(
            {
                "purpose": c.purpose,
                "version": _required_text(c.version, f"consents[{n}].version", 40),
                "text_de": _required_text(c.text_de, f"consents[{n}].text_de", MAX_CONSENT_TEXT),
                "text_en": _required_text(c.text_en, f"consents[{n}].text_en", MAX_CONSENT_TEXT),
                "required": c.required,
            }
        )
    return result


async def _check_refs(
    session: AsyncSession, programme_id: uuid.UUID | None, coordinator: uuid.UUID | None
) -> None:
    if programme_id is not None:
        found = (await session.execute(select(Programme.id).where(Programme.id == programme_id))).first()
        if found is None:
            raise ValidationFailed("no such programme", field="programme_id")
    if coordinator is not None:
        found = (await session.execute(select(Membership.id).where(Membership.id == coordinator))).first()
        if found is None:
            raise ValidationFailed("no such member", field="coordinator_id")


def _check_slug(slug: str) -> str:
    cleaned = slug.strip().lower()
    if not SLUG_RE.match(cleaned):
        raise ValidationFailed("lower-case letters, digits and '-' (it is part of the address)", field="slug")
    return cleaned


def _check_audience(audience: str) -> str:
    if audience not in vocab.AUDIENCES:
        raise ValidationFailed(
            "audience must be one of %(audiences)s", field="audience", audiences=", ".join(vocab.AUDIENCES)
        )
    return audience


def _check_hours(hours: int) -> int:
    if not 1 <= hours <= 24 * 30:
        raise ValidationFailed("between 1 hour and 30 days", field="confirm_within_hours")
    return hours


async def _slug_free(session: AsyncSession, slug: str, form_id: uuid.UUID | None = None) -> None:
    query = select(IntakeForm.id).where(IntakeForm.slug == slug)
    if form_id is not None:
        query = query.where(IntakeForm.id != form_id)
    if (await session.execute(query)).first():
        raise Conflict("another form has this address", field="slug")


FORM_FIELDS = (
    "slug", "programme_id", "audience", "title_de", "title_en", "intro_de", "intro_en", "fields", "consents",
    "coordinator_membership_id", "active", "confirm_within_hours",
)  # fmt: skip


async def create_form(session: AsyncSession, data: FormIn, org_slug: str, public_url: str) -> FormOut:
    slug = _check_slug(data.slug)
    await _check_refs(session, data.programme_id, data.coordinator_id)
    await _slug_free(session, slug)
    form = IntakeForm(
        organization_id=current_org(session),
        slug=slug,
        programme_id=data.programme_id,
        audience=_check_audience(data.audience),
        title_de=_required_text(data.title_de, "title_de", 200),
        title_en=_required_text(data.title_en, "title_en", 200),
        intro_de=data.intro_de.strip()[:4000],
        intro_en=data.intro_en.strip()[:4000],
        fields=await _check_fields(session, data.fields),
        consents=_check_consents(data.consents),
        coordinator_membership_id=data.coordinator_id,
        active=data.active,
        confirm_within_hours=_check_hours(data.confirm_within_hours),
    )
    if form.active:
        await require_legal_pages(session, form.organization_id)
    session.add(form)
    await session.flush()
    await history.record(
        session, "form", form.id, "created", history.created(history.snapshot(form, FORM_FIELDS))
    )
    return form_out(form, org_slug, public_url, {})


async def update_form(
    session: AsyncSession, form_id: uuid.UUID, data: FormPatch, org_slug: str, public_url: str
) -> FormOut:
    form = await get_form(session, form_id)
    before = history.snapshot(form, FORM_FIELDS)
    if not isinstance(data.slug, UnsetType):
        form.slug = _check_slug(data.slug)
        await _slug_free(session, form.slug, form.id)
    if not isinstance(data.programme_id, UnsetType):
        await _check_refs(session, data.programme_id, None)
        form.programme_id = data.programme_id
    if not isinstance(data.audience, UnsetType):
        form.audience = _check_audience(data.audience)
    for name in ("title_de", "title_en"):
        value = getattr(data, name)
        if not isinstance(value, UnsetType):
            setattr(form, name, _required_text(value, name, 200))
    for name in ("intro_de", "intro_en"):
        value = getattr(data, name)
        if not isinstance(value, UnsetType):
            setattr(form, name, value.strip()[:4000])
    if not isinstance(data.fields, UnsetType):
        form.fields = await _check_fields(session, data.fields)
    if not isinstance(data.consents, UnsetType):
        form.consents = _check_consents(data.consents)
    if not isinstance(data.coordinator_id, UnsetType):
        await _check_refs(session, None, data.coordinator_id)
        form.coordinator_membership_id = data.coordinator_id
    if not isinstance(data.active, UnsetType):
        if data.active and not form.active:
            await require_legal_pages(session, form.organization_id)
        form.active = data.active
    if not isinstance(data.confirm_within_hours, UnsetType):
        form.confirm_within_hours = _check_hours(data.confirm_within_hours)
    form.updated_at = datetime.now(UTC)
    await session.flush()
    changes = history.diff(before, history.snapshot(form, FORM_FIELDS))
    await history.record(session, "form", form.id, "changed", changes)
    return await read_form(session, form.id, org_slug, public_url)


async def delete_form(session: AsyncSession, form_id: uuid.UUID) -> None:
    form = await get_form(session, form_id)
    await history.record(
        session, "form", form.id, "deleted", history.deleted(history.snapshot(form, FORM_FIELDS))
    )
    await session.delete(form)
    await session.flush()


# ---------------------------------------------------------------- the public side


RADIO_LIMIT = 5


@dataclass
class Field:
    """One input of the public form, ready to render."""

    name: str
    label: str
    type: str
    required: bool
    autocomplete: str = "off"
    options: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ConsentBox:
    name: str
    purpose: str
    version: str
    text: str
    required: bool


@dataclass
class PublicForm:
    org: Organization
    form: IntakeForm
    lang: str
    fields: list[Field]
    consents: list[ConsentBox]

    @property
    def title(self) -> str:
        return self.form.title_en if self.lang == "en" else self.form.title_de

    @property
    def intro(self) -> str:
        return self.form.intro_en if self.lang == "en" else self.form.intro_de


class Refused(Exception):
    """The submission is not taken; ``errors`` maps input names to what to fix."""

    def __init__(self, errors: dict[str, str], status: int = 422) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors
        self.status = status


async def find_public_form(
    db: Database, org_slug: str, form_slug: str, *, active_only: bool = True
) -> tuple[Organization, uuid.UUID] | None:
    """The organisation and the id of its active form, or None: unknown organisations and forms look alike.

    Confirmation links pass ``active_only=False``: a form switched off keeps its promise to those
    who signed up before.
    """
    async with db.platform() as platform:
        org = (
            await platform.execute(select(Organization).where(Organization.slug == org_slug))
        ).scalar_one_or_none()
    if org is None:
        return None
    async with db.tenant(org.id) as session:
        form_id = (
            await session.execute(
                select(IntakeForm.id).where(
                    IntakeForm.slug == form_slug, IntakeForm.active.is_(True) if active_only else true()
                )
            )
        ).scalar_one_or_none()
    return (org, form_id) if form_id else None


async def public_form(session: AsyncSession, org: Organization, form_id: uuid.UUID, lang: str) -> PublicForm:
    form = await get_form(session, form_id)
    en = lang == "en"
    custom = {f.key: f for f in await custom_fields.list_fields(session)}
    asked = [dict(f) for f in form.fields]
    # A custom field the contact record requires for this audience is always asked, and required.
    for f in custom.values():
        if form.audience in f.required_for and not any(a["key"] == f"custom.{f.key}" for a in asked):
            asked.append({"key": f"custom.{f.key}", "required": True})
    fields = []
    for item in asked:
        key, required = item["key"], bool(item.get("required"))
        if key in STANDARD_FIELDS:
            label, kind, autocomplete = STANDARD_FIELDS[key]
            options = [(g, _t(lang, GENDER_LABELS[g])) for g in GENDERS] if key == "gender" else []
            fields.append(Field(key, _t(lang, label), kind, required, autocomplete, options))
            continue
        cf = custom.get(key.removeprefix("custom."))
        if cf is None or cf.archived_at is not None:
            continue
        required = required or form.audience in cf.required_for
        label = (cf.label_en or cf.label_de) if en else cf.label_de
        options = [
            (o["value"], (o.get("label_en") or o["label_de"]) if en else o["label_de"]) for o in cf.options
        ]
        # A few choices are read at a glance as radio buttons; a long list stays a select.
        single = "radio" if len(options) <= RADIO_LIMIT else "select"
        kinds = {
            "number": "number",
            "date": "date",
            "boolean": "checkbox",
            "choice": single,
            "multi_choice": "checkboxes",
        }
        fields.append(Field(key, label, kinds.get(cf.type, "text"), required, "off", options))
    consents = [
        ConsentBox(
            f"consent.{c['purpose']}",
            c["purpose"],
            c["version"],
            c["text_en" if en else "text_de"],
            c["required"],
        )
        for c in form.consents
    ]
    return PublicForm(org, form, lang, fields, consents)


def form_stamp(
    secret: bytes, org_id: uuid.UUID, form_id: uuid.UUID, now: float | None = None, nonce: str | None = None
) -> str:
    """A signed time stamp the page carries, to tell a person's pace from a bot's.

    Each page gets its own (the nonce), so a submission can use it only once.
    """
    issued = int(now if now is not None else time.time())
    nonce = nonce or secrets.token_urlsafe(12)
    message = f"{org_id}:{form_id}:{issued}:{nonce}".encode()
    mac = hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]
    return f"{issued}.{nonce}.{mac}"


def _stamp_age(secret: bytes, org_id: uuid.UUID, form_id: uuid.UUID, stamp: str, now: float) -> float | None:
    issued_text, nonce, mac = [*stamp.split("."), "", ""][:3]
    if not issued_text.isdigit() or not nonce or len(stamp) > 200:
        return None
    expected = form_stamp(secret, org_id, form_id, int(issued_text), nonce).rpartition(".")[2]
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    return now - int(issued_text)


async def _first_use(redis: Any, org_id: uuid.UUID, stamp: str) -> bool:
    """True the first time a stamp is spent; it is remembered for as long as it is valid."""
    key = "codo:form-stamp:" + hashlib.sha256(f"{org_id}:{stamp}".encode()).hexdigest()
    seconds = int(MAX_FORM_AGE.total_seconds()) + 60
    return bool(await redis.set(key, b"1", nx=True, ex=seconds))


def client_hash(secret: bytes, org_id: uuid.UUID, client: str) -> str:
    return hmac.new(secret, f"{org_id}:{client}".encode(), hashlib.sha256).hexdigest()


def _refused(lang: str, reason: str) -> str:
    return _t(lang, REFUSALS[reason])


def _t(lang: str, message: str, **params: Any) -> str:
    return i18n.gettext(lang, message, domain="intake", **params)


def _parse(
    public: PublicForm, posted: dict[str, str], custom: dict[str, CustomField]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The answers as stored, and the errors by input name (in the visitor's language)."""
    lang = public.lang
    errors: dict[str, str] = {}
    answers: dict[str, Any] = {"custom": {}}
    missing = _t(lang, "Please fill this in.")

    def text(name: str, limit: int, required: bool) -> str:
        value = " ".join(posted.get(name, "").split()) if name != "message" else posted.get(name, "").strip()
        if required and not value:
            errors[name] = missing
        elif len(value) > limit:
            errors[name] = _t(lang, "At most %(limit)s characters.", limit=limit)
        return value

    for_child = public.form.audience == "mentee" and posted.get("for_child") == "yes"
    answers["for_child"] = for_child
    answers["first_name"] = text("first_name", 100, True)
    answers["last_name"] = text("last_name", 100, True)
    email = normalize_email(posted.get("email", ""))
    if not email:
        errors["email"] = missing
    elif not EMAIL_RE.match(email) or len(email) > 320:
        errors["email"] = _t(lang, "Please enter a valid e-mail address.")
    answers["email"] = email
    address = posted.get("form_of_address", "sie")
    answers["form_of_address"] = address if address in vocab.FORMS_OF_ADDRESS else "sie"
    if for_child:
        answers["child_first_name"] = text("child_first_name", 100, True)
        answers["child_last_name"] = text("child_last_name", 100, False) or answers["last_name"]

    for f in public.fields:
        raw = posted.get(f.name, "").strip()
        if f.type == "checkbox":
            raw = "true" if posted.get(f.name) else ""
        if not raw:
            if f.required:
                errors[f.name] = missing
            continue
        if f.name.startswith("custom."):
            cf = custom[f.name.removeprefix("custom.")]
            try:
                answers["custom"][cf.key] = custom_fields.coerce_value(cf, raw, lenient=True)
            except ValueError:
                errors[f.name] = _t(lang, "Please check this entry.")
            continue
        if f.name == "birth_date":
            try:
                born = parse_date(raw, lenient=True)
                if born > clock.today() or born.year < 1900:
                    raise ValueError(raw)
                answers["birth_date"] = born.isoformat()
            except ValueError:
                errors[f.name] = _t(lang, "Please enter a valid date.")
        elif f.name == "phone":
            if not PHONE_RE.match(raw):
                errors[f.name] = _t(lang, "Please enter a valid phone number.")
            answers["phone"] = raw
        elif f.name == "postal_code":
            if not POSTAL_RE.match(raw):
                errors[f.name] = _t(lang, "Please enter a valid postcode.")
            answers["postal_code"] = raw
        elif f.name == "gender":
            if raw not in GENDERS:
                errors[f.name] = _t(lang, "Please choose from the list.")
            answers["gender"] = raw
        elif f.name == "languages":
            try:
                answers["languages"] = sorted({parse_language(p) for p in split_list(raw)})
            except ValueError:
                errors[f.name] = _t(
                    lang,
                    "We do not know this language; please write it differently.",
                )
        elif f.name == "city":
            answers["city"] = text("city", 100, f.required)
        elif f.name == "message":
            answers["message"] = text("message", 4000, f.required)
    return answers, errors


async def submit(
    session: AsyncSession,
    public: PublicForm,
    posted: dict[str, str],
    *,
    secret: bytes,
    redis: Any,
    client: str,
    public_url: str,
    now: datetime | None = None,
) -> IntakeSubmission:
    """Check and keep a submission, and write the confirmation e-mail; raises :class:`Refused`."""
    lang = public.lang
    now = now or datetime.now(UTC)
    form = public.form
    # The honeypot is a field people do not see; whatever fills it in is not a person.
    if posted.get("website", "").strip():
        raise Refused({"_form": _refused(lang, "honeypot")}, 400)
    age = _stamp_age(secret, public.org.id, form.id, posted.get("_stamp", ""), now.timestamp())
    if age is None or age > MAX_FORM_AGE.total_seconds():
        raise Refused({"_form": _refused(lang, "stale")}, 400)
    if age < MIN_FILL_SECONDS:
        raise Refused({"_form": _refused(lang, "too_fast")}, 400)
    custom = {f.key: f for f in await custom_fields.list_fields(session)}
    answers, errors = _parse(public, posted, custom)
    ticked = []
    for box in public.consents:
        if posted.get(box.name):
            ticked.append({"purpose": box.purpose, "version": box.version, "text": box.text, "lang": lang})
        elif box.required:
            errors[box.name] = _t(lang, "We cannot take you on without this consent.")
    if errors:
        raise Refused(errors)

    hour_ago = now - timedelta(hours=1)
    client_key = client_hash(secret, public.org.id, client)
    by_email, by_client = (
        await session.execute(
            select(
                func.count().filter(IntakeSubmission.email == answers["email"]),
                func.count().filter(IntakeSubmission.client_hash == client_key),
            ).where(IntakeSubmission.created_at >= hour_ago)
        )
    ).one()
    if by_email >= PER_EMAIL_PER_HOUR or by_client >= PER_CLIENT_PER_HOUR:
        raise Refused({"_form": _refused(lang, "rate")}, 429)
    # A page's stamp is spent by the submission it carries: replaying it sends nothing.
    if not await _first_use(redis, public.org.id, posted["_stamp"]):
        raise Refused({"_form": _refused(lang, "used")}, 400)

    token = secrets.token_urlsafe(32)
    submission = IntakeSubmission(
        organization_id=public.org.id,
        form_id=form.id,
        email=answers["email"],
        locale=lang,
        answers=answers,
        consents=ticked,
        token_hash=hashlib.sha256(token.encode()).digest(),
        client_hash=client_key,
        created_at=now,
    )
    session.add(submission)
    await session.flush()
    link = f"{public_url.rstrip('/')}{public_path(public.org.slug, form.slug)}/confirm/{token}"
    letter = mail.letter(
        "confirm",
        lang=lang,
        form_of_address=answers["form_of_address"],
        first_name=answers["first_name"],
        last_name=answers["last_name"],
        org=public.org.name,
        form=public.title,
        link=link,
        hours=str(form.confirm_within_hours),
    )
    await outbox.enqueue(
        session, public.org.id, kind="intake_confirmation", to=answers["email"], subject=letter.subject,
        body_text=letter.body,
    )  # fmt: skip
    return submission


@dataclass
class Confirmed:
    contact_id: uuid.UUID
    already: bool


async def pending_submission(
    session: AsyncSession, form: IntakeForm, token: str, now: datetime
) -> IntakeSubmission | None:
    submission = (
        await session.execute(
            select(IntakeSubmission).where(
                IntakeSubmission.token_hash == hashlib.sha256(token.encode()).digest(),
                IntakeSubmission.form_id == form.id,
            )
        )
    ).scalar_one_or_none()
    if submission is None:
        return None
    if (
        submission.status == "pending"
        and submission.created_at + timedelta(hours=form.confirm_within_hours) < now
    ):
        return None
    return submission


async def confirm(
    session: AsyncSession,
    org: Organization,
    form: IntakeForm,
    token: str,
    *,
    public_url: str,
    now: datetime | None = None,
) -> Confirmed | None:
    """Follow the link: create the contact(s), consents, profile and the coordinator's task. Idempotent."""
    now = now or datetime.now(UTC)
    history.bind(session, Actor.system("public sign-up form"))
    found = await pending_submission(session, form, token, now)
    if found is None:
        return None
    submission = (
        await session.execute(
            select(IntakeSubmission)
            .where(IntakeSubmission.id == found.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    if submission.status == "confirmed":
        if submission.contact_id is None:
            return None
        return Confirmed(submission.contact_id, already=True)
    a = submission.answers
    owner = form.coordinator_membership_id
    person = ContactIn(
        kinds=["guardian"] if a.get("for_child") else [form.audience],
        first_name=a["first_name"],
        last_name=a["last_name"],
        email=a["email"],
        phone=a.get("phone"),
        postal_code=a.get("postal_code"),
        city=a.get("city") or None,
        owner_membership_id=owner,
        status="new",
        programme_ids=[] if a.get("for_child") else [form.programme_id],
        **({} if a.get("for_child") else _profile(a)),
    )
    created = await contacts.create_contact(session, org.id, person)
    contact_ids = [created.id]
    subject_id = created.id
    subject_name = f"{a['first_name']} {a['last_name']}"
    if a.get("for_child"):
        child = await contacts.create_contact(
            session,
            org.id,
            ContactIn(
                kinds=["mentee"],
                first_name=a["child_first_name"],
                last_name=a["child_last_name"],
                postal_code=a.get("postal_code"),
                city=a.get("city") or None,
                owner_membership_id=owner,
                status="new",
                programme_ids=[form.programme_id],
                **_profile(a),
            ),
        )
        await contacts.add_link(session, created.id, child.id, "guardian_of")
        contact_ids.append(child.id)
        subject_id = child.id
        subject_name = f"{a['child_first_name']} {a['child_last_name']}"
    for cid in contact_ids:
        session.add(
            IntakeProfile(
                organization_id=org.id,
                contact_id=cid,
                form_of_address=a["form_of_address"],
            )
        )
    given_by = f"{a['first_name']} {a['last_name']}"
    for consent in submission.consents:
        for cid in contact_ids:
            recorded = await timeline.record_consent(
                session,
                cid,
                Actor.system("public form", role=Role.VIEWER),
                ConsentIn(
                    purpose=consent["purpose"],
                    status="given",
                    effective_on=now.astimezone(vocab.ZONE).date(),
                    given_by=given_by,
                    evidence=(
                        f"Online-Anmeldung „{form.title_de}“, Version {consent['version']} "
                        f"({consent['lang']}), bestätigt per E-Mail an {a['email']}: {consent['text']}"
                    )[:2000],
                ),
            )
            await session.execute(
                update(Consent).where(Consent.id == recorded.id).values(recorded_by="Anmeldeformular")
            )
    actor = Actor.system("public form", org_id=org.id, slug=org.slug, public_url=public_url)
    # The task is stored as it reads: in the language of the coordinator who follows it up.
    coordinator = await notify.recipients(session, {owner}) if owner else {}
    lang = i18n.language(coordinator[owner].locale if owner in coordinator else None)
    say = i18n.translator(lang, "intake")
    form_title = (form.title_en if lang == "en" else "") or form.title_de
    details = [say(_NEW_FORM, title=form_title), say(_NEW_EMAIL, email=a["email"])]
    if a.get("for_child"):
        details.append(say(_NEW_FOR_CHILD, name=given_by))
    if a.get("message"):
        details.append(say(_NEW_MESSAGE, message=a["message"]))
    if created.possible_duplicates:
        details.append(say(_NEW_DUPLICATE))
    details.append(actor.link(f"/intake/people/{subject_id}"))
    await tasks.create_task(
        session,
        actor,
        TaskCreate(
            title=say(_NEW_TITLE, name=subject_name)[:300],
            due_date=now.astimezone(vocab.ZONE).date() + timedelta(days=2),
            assignee_id=owner,
            description="\n".join(details)[:4000],
            contact_id=subject_id,
        ),
        now,
    )
    submission.status = "confirmed"
    submission.confirmed_at = now
    submission.contact_id = subject_id
    await session.flush()
    return Confirmed(subject_id, already=False)


def _profile(a: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {"custom": a.get("custom") or {}}
    if a.get("birth_date"):
        values["birth_date"] = date.fromisoformat(a["birth_date"])
    if a.get("gender"):
        values["gender"] = a["gender"]
    if a.get("languages"):
        values["languages"] = a["languages"]
    return values


# ---------------------------------------------------------------- purge


def _expired(now: datetime) -> ColumnElement[bool]:
    return and_(
        IntakeSubmission.status == "pending",
        IntakeForm.organization_id == IntakeSubmission.organization_id,
        IntakeForm.id == IntakeSubmission.form_id,
        IntakeSubmission.created_at + func.make_interval(0, 0, 0, 0, IntakeForm.confirm_within_hours) < now,
    )


async def organisations_with_expired_submissions(db: Database, now: datetime) -> list[uuid.UUID]:
    async with db.system_context("intake purge scan") as session:
        rows = await session.execute(
            select(IntakeSubmission.organization_id).where(exists().where(_expired(now))).distinct()
        )
        return list(rows.scalars())


async def purge_unconfirmed(db: Database, org_id: uuid.UUID, now: datetime) -> int:
    """Delete the sign-ups whose address was not confirmed in time: they hold personal data."""
    async with db.tenant(org_id) as session:
        result = await session.execute(
            delete(IntakeSubmission)
            .where(exists().where(_expired(now)))
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
