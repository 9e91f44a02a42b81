"""Defining questionnaires: the organisation's settings, questionnaires with their versions, the
shipped templates to copy, and the schedules that say who is asked what and when."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import history
from shared.actor import Actor
from shared.contacts.models import Programme
from shared.db import current_org
from shared.errors import NotFound, ValidationFailed
from shared.i18n import N_
from shared.questionnaires.models import (
    Questionnaire,
    QuestionnaireResponse,
    QuestionnaireSchedule,
    QuestionnaireSettings,
    QuestionnaireVersion,
)
from shared.questionnaires.schemas import (
    Content,
    FromTemplateIn,
    QuestionnaireIn,
    QuestionnaireOut,
    QuestionnairePatch,
    ScheduleIn,
    ScheduleOut,
    SettingsIn,
    SettingsOut,
    TemplateOut,
    VersionOut,
)
from shared.questionnaires.templates import TEMPLATES

CHOICE_TYPES = ("single", "multiple")
SCHEDULE_FIELDS = ("audience", "trigger", "after_days", "every_days", "phase", "programme_id", "active")


def summary(q: Questionnaire, content: Content, version: int) -> dict[str, object]:
    """What the change history keeps of a questionnaire: its German wording, not the whole JSON."""
    return {
        "title": content.title.de,
        "kind": q.kind,
        "programme_id": history.jsonable(q.programme_id),
        "version": version,
        "questions": [f"{n}. {question.text.de}" for n, question in enumerate(content.questions, 1)],
    }


def decode_content(raw: object) -> Content:
    return msgspec.convert(raw, Content)


def encode_content(content: Content) -> dict[str, object]:
    result: dict[str, object] = msgspec.to_builtins(content)
    return result


async def get_settings(session: AsyncSession) -> SettingsOut:
    row = (await session.execute(select(QuestionnaireSettings))).scalar_one_or_none()
    if row is None:
        return SettingsOut()
    return SettingsOut(
        low_rating_threshold=row.low_rating_threshold,
        link_valid_days=row.link_valid_days,
        reminder_after_days=row.reminder_after_days,
        consent_required=row.consent_required,
    )


async def set_settings(session: AsyncSession, data: SettingsIn) -> SettingsOut:
    row = (await session.execute(select(QuestionnaireSettings).with_for_update())).scalar_one_or_none()
    if row is None:
        row = QuestionnaireSettings(organization_id=current_org(session))
        session.add(row)
    row.low_rating_threshold = data.low_rating_threshold
    row.link_valid_days = data.link_valid_days
    row.reminder_after_days = data.reminder_after_days
    row.consent_required = data.consent_required
    row.updated_at = datetime.now(UTC)
    await session.flush()
    return await get_settings(session)


def check_content(content: Content) -> None:
    """Refuse a questionnaire a person could not answer, naming the question's field."""
    if not content.title.de.strip():
        raise ValidationFailed(N_("a questionnaire needs a German title"), field="content.title.de")
    seen: set[str] = set()
    for i, q in enumerate(content.questions):
        where = f"content.questions[{i}]"
        if q.key in seen:
            raise ValidationFailed(N_("two questions have the key %(key)r"), field=f"{where}.key", key=q.key)
        seen.add(q.key)
        if not q.text.de.strip():
            raise ValidationFailed(N_("every question needs a German text"), field=f"{where}.text.de")
        if q.type in CHOICE_TYPES:
            keys = [o.key for o in q.options]
            if len(keys) < 2 or len(set(keys)) != len(keys):
                raise ValidationFailed(
                    N_("a choice question needs at least two options with different keys"),
                    field=f"{where}.options",
                )
        elif q.options:
            raise ValidationFailed(N_("only choice questions have options"), field=f"{where}.options")
        if q.scale and (q.type != "scale" or len(q.scale) != 5):
            raise ValidationFailed(
                N_("a scale question has five labels, one for each of 1 to 5, or none"),
                field=f"{where}.scale",
            )
        if q.type == "number" and q.min is not None and q.max is not None and q.min > q.max:
            raise ValidationFailed(N_("the smallest number is larger than the largest"), field=f"{where}.min")
        wanted = {"worry": ("yes_no",), "low_rating": ("scale",), "would_not_continue": ("yes_no",)}
        if q.signal is not None and q.type not in wanted[q.signal]:
            raise ValidationFailed(
                N_("a %(signal)s signal needs a question of type %(type)s"),
                field=f"{where}.signal",
                signal=q.signal,
                type=wanted[q.signal][0],
            )


def _out(q: Questionnaire, v: QuestionnaireVersion, lang: str) -> QuestionnaireOut:
    content = decode_content(v.content)
    return QuestionnaireOut(
        id=q.id,
        kind=q.kind,
        template=q.template,
        programme_id=q.programme_id,
        title=content.title.say(lang),
        version=v.number,
        version_id=v.id,
        content=content,
        archived=q.archived_at is not None,
        created_at=q.created_at,
    )


async def _programme(session: AsyncSession, programme_id: uuid.UUID | None) -> None:
    if programme_id is None:
        return
    found = (
        await session.execute(select(Programme.id).where(Programme.id == programme_id))
    ).scalar_one_or_none()
    if found is None:
        raise ValidationFailed(N_("no such programme in this organisation"), field="programme_id")


async def _get(session: AsyncSession, questionnaire_id: uuid.UUID, *, lock: bool = False) -> Questionnaire:
    query = select(Questionnaire).where(Questionnaire.id == questionnaire_id)
    if lock:
        query = query.with_for_update()
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None:
        raise NotFound(N_("no such questionnaire"))
    return found


async def latest_version(session: AsyncSession, questionnaire_id: uuid.UUID) -> QuestionnaireVersion:
    return (
        await session.execute(
            select(QuestionnaireVersion)
            .where(QuestionnaireVersion.questionnaire_id == questionnaire_id)
            .order_by(QuestionnaireVersion.number.desc())
            .limit(1)
        )
    ).scalar_one()


async def create(
    session: AsyncSession, actor: Actor, data: QuestionnaireIn, *, template: str | None = None
) -> QuestionnaireOut:
    check_content(data.content)
    await _programme(session, data.programme_id)
    org = current_org(session)
    q = Questionnaire(organization_id=org, programme_id=data.programme_id, kind=data.kind, template=template)
    session.add(q)
    await session.flush()
    v = QuestionnaireVersion(
        organization_id=org,
        questionnaire_id=q.id,
        number=1,
        content=encode_content(data.content),
        created_by=actor.label,
    )
    session.add(v)
    await session.flush()
    await session.refresh(q)
    await session.refresh(v)
    await history.record(
        session,
        "questionnaire",
        q.id,
        "created",
        history.created(summary(q, data.content, 1)),
        actor=actor,
        target=data.content.title.de,
        details={"template": template} if template else None,
    )
    return _out(q, v, "de")


def list_templates(lang: str) -> list[TemplateOut]:
    return [
        TemplateOut(key=key, kind=kind, title=content.title.say(lang), questions=len(content.questions))
        for key, (kind, content) in TEMPLATES.items()
    ]


async def copy_template(session: AsyncSession, actor: Actor, data: FromTemplateIn) -> QuestionnaireOut:
    found = TEMPLATES.get(data.template)
    if found is None:
        raise ValidationFailed(
            N_("no such template; choose one of %(choices)s"), field="template", choices=", ".join(TEMPLATES)
        )
    kind, content = found
    made = QuestionnaireIn(content=content, kind=kind, programme_id=data.programme_id)  # type: ignore[arg-type]
    return await create(session, actor, made, template=data.template)


async def list_questionnaires(
    session: AsyncSession, lang: str, *, archived: bool = False
) -> list[QuestionnaireOut]:
    latest = (
        select(QuestionnaireVersion.questionnaire_id, func.max(QuestionnaireVersion.number).label("n"))
        .group_by(QuestionnaireVersion.questionnaire_id)
        .subquery()
    )
    query = (
        select(Questionnaire, QuestionnaireVersion)
        .join(latest, latest.c.questionnaire_id == Questionnaire.id)
        .join(
            QuestionnaireVersion,
            (QuestionnaireVersion.questionnaire_id == Questionnaire.id)
            & (QuestionnaireVersion.number == latest.c.n),
        )
        .order_by(Questionnaire.created_at, Questionnaire.id)
    )
    if not archived:
        query = query.where(Questionnaire.archived_at.is_(None))
    return [_out(q, v, lang) for q, v in (await session.execute(query)).all()]


async def get(session: AsyncSession, questionnaire_id: uuid.UUID, lang: str = "de") -> QuestionnaireOut:
    q = await _get(session, questionnaire_id)
    return _out(q, await latest_version(session, q.id), lang)


async def _answered(session: AsyncSession, version_id: uuid.UUID) -> int:
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(QuestionnaireResponse)
                .where(QuestionnaireResponse.version_id == version_id)
            )
        ).scalar_one()
    )


async def update(
    session: AsyncSession, actor: Actor, questionnaire_id: uuid.UUID, patch: QuestionnairePatch
) -> QuestionnaireOut:
    """Change a questionnaire; new wording of one that has answers becomes its next version."""
    q = await _get(session, questionnaire_id, lock=True)
    v = await latest_version(session, q.id)
    before = summary(q, decode_content(v.content), v.number)
    was_archived = q.archived_at is not None
    if not isinstance(patch.programme_id, msgspec.UnsetType):
        await _programme(session, patch.programme_id)
        q.programme_id = patch.programme_id
    if not isinstance(patch.archived, msgspec.UnsetType):
        q.archived_at = datetime.now(UTC) if patch.archived else None
    if not isinstance(patch.content, msgspec.UnsetType):
        check_content(patch.content)
        encoded = encode_content(patch.content)
        if encoded != v.content:
            if await _answered(session, v.id) or await _invited(session, v.id):
                v = QuestionnaireVersion(
                    organization_id=q.organization_id,
                    questionnaire_id=q.id,
                    number=v.number + 1,
                    content=encoded,
                    created_by=actor.label,
                )
                session.add(v)
            else:
                v.content = encoded
    q.updated_at = datetime.now(UTC)
    await session.flush()
    await session.refresh(q)
    await session.refresh(v)
    content = decode_content(v.content)
    await history.record(
        session,
        "questionnaire",
        q.id,
        "changed",
        history.diff(before, summary(q, content, v.number)),
        actor=actor,
        target=content.title.de,
    )
    if was_archived != (q.archived_at is not None):
        await history.record(
            session,
            "questionnaire",
            q.id,
            "archived" if q.archived_at is not None else "restored",
            actor=actor,
            target=content.title.de,
        )
    return _out(q, v, "de")


async def _invited(session: AsyncSession, version_id: uuid.UUID) -> bool:
    from shared.questionnaires.models import QuestionnaireInvitation

    # A version someone was sent a link to stays as they will see it when they open the link.
    found = await session.execute(
        select(QuestionnaireInvitation.id).where(QuestionnaireInvitation.version_id == version_id).limit(1)
    )
    return found.scalar_one_or_none() is not None


async def list_versions(session: AsyncSession, questionnaire_id: uuid.UUID) -> list[VersionOut]:
    await _get(session, questionnaire_id)
    counts = (
        select(QuestionnaireResponse.version_id, func.count().label("n"))
        .group_by(QuestionnaireResponse.version_id)
        .subquery()
    )
    rows = await session.execute(
        select(QuestionnaireVersion, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.version_id == QuestionnaireVersion.id)
        .where(QuestionnaireVersion.questionnaire_id == questionnaire_id)
        .order_by(QuestionnaireVersion.number)
    )
    return [
        VersionOut(
            id=v.id,
            number=v.number,
            content=decode_content(v.content),
            answered=int(n),
            created_at=v.created_at,
        )
        for v, n in rows.all()
    ]


def _schedule_out(s: QuestionnaireSchedule) -> ScheduleOut:
    return ScheduleOut(
        id=s.id,
        questionnaire_id=s.questionnaire_id,
        audience=s.audience,
        trigger=s.trigger,
        after_days=s.after_days,
        every_days=s.every_days,
        phase=s.phase,
        programme_id=s.programme_id,
        active=s.active,
    )


async def list_schedules(session: AsyncSession) -> list[ScheduleOut]:
    rows = (
        await session.execute(
            select(QuestionnaireSchedule).order_by(QuestionnaireSchedule.created_at, QuestionnaireSchedule.id)
        )
    ).scalars()
    return [_schedule_out(s) for s in rows]


async def _check_schedule(session: AsyncSession, data: ScheduleIn) -> None:
    try:
        await _get(session, data.questionnaire_id)
    except NotFound:
        raise ValidationFailed(N_("no such questionnaire"), field="questionnaire_id") from None
    await _programme(session, data.programme_id)
    if data.every_days is not None and data.trigger != "during":
        raise ValidationFailed(N_("only a schedule during the tandem repeats"), field="every_days")


async def create_schedule(session: AsyncSession, data: ScheduleIn) -> ScheduleOut:
    await _check_schedule(session, data)
    s = QuestionnaireSchedule(
        organization_id=current_org(session),
        questionnaire_id=data.questionnaire_id,
        programme_id=data.programme_id,
        audience=data.audience,
        trigger=data.trigger,
        after_days=data.after_days,
        every_days=data.every_days,
        phase=data.phase,
        active=data.active,
    )
    session.add(s)
    await session.flush()
    await history.record(
        session,
        "questionnaire_schedule",
        s.id,
        "created",
        history.created(history.snapshot(s, SCHEDULE_FIELDS)),
        target=await _title(session, s.questionnaire_id),
    )
    return _schedule_out(s)


async def get_schedule(session: AsyncSession, schedule_id: uuid.UUID) -> ScheduleOut:
    return _schedule_out(await _schedule(session, schedule_id))


async def _schedule(session: AsyncSession, schedule_id: uuid.UUID) -> QuestionnaireSchedule:
    found = (
        await session.execute(select(QuestionnaireSchedule).where(QuestionnaireSchedule.id == schedule_id))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(N_("no such schedule"))
    return found


async def update_schedule(session: AsyncSession, schedule_id: uuid.UUID, data: ScheduleIn) -> ScheduleOut:
    s = await _schedule(session, schedule_id)
    await _check_schedule(session, data)
    if (s.questionnaire_id, s.audience, s.trigger) != (data.questionnaire_id, data.audience, data.trigger):
        # What was sent under the old rule is recorded under it; a changed rule is a new one.
        raise ValidationFailed(
            N_("questionnaire, audience and timing of a schedule stay; make a new schedule instead"),
            field="trigger",
        )
    before = history.snapshot(s, SCHEDULE_FIELDS)
    s.programme_id = data.programme_id
    s.after_days = data.after_days
    s.every_days = data.every_days
    s.phase = data.phase
    s.active = data.active
    await session.flush()
    await history.record(
        session,
        "questionnaire_schedule",
        s.id,
        "changed",
        history.diff(before, history.snapshot(s, SCHEDULE_FIELDS)),
        target=await _title(session, s.questionnaire_id),
    )
    return _schedule_out(s)


async def delete_schedule(session: AsyncSession, schedule_id: uuid.UUID) -> None:
    s = await _schedule(session, schedule_id)
    await history.record(
        session,
        "questionnaire_schedule",
        s.id,
        "deleted",
        history.deleted(history.snapshot(s, SCHEDULE_FIELDS)),
        target=await _title(session, s.questionnaire_id),
    )
    await session.execute(delete(QuestionnaireSchedule).where(QuestionnaireSchedule.id == s.id))


def title_of(version: QuestionnaireVersion) -> str:
    """The German title of a version, to name the questionnaire in the change history."""
    return decode_content(version.content).title.de


async def _title(session: AsyncSession, questionnaire_id: uuid.UUID) -> str:
    return title_of(await latest_version(session, questionnaire_id))


async def in_use(session: AsyncSession, questionnaire_id: uuid.UUID) -> bool:
    """Whether the latest version was sent or answered: a change to it becomes the next version."""
    v = await latest_version(session, questionnaire_id)
    return bool(await _answered(session, v.id)) or await _invited(session, v.id)
