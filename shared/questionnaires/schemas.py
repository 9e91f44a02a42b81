"""Questionnaires as JSON: their content (wording in German with "Sie" and "du", and English),
and the request and response bodies of the API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from shared.limits import Fields, Short, Text

QuestionType = Literal["scale", "single", "multiple", "yes_no", "number", "short_text", "long_text"]
Audience = Literal["mentor", "mentee", "guardian"]
Trigger = Literal["start", "during", "end"]
Phase = Literal["before", "after"]
Kind = Literal["checkin", "closing", "impact", "custom"]
# What an answer can tell the coordinator: "yes" to a worry question, a scale answer at or below the
# organisation's threshold, "no" to "would you continue".
Signal = Literal["worry", "low_rating", "would_not_continue"]
Key = Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern="^[a-z][a-z0-9_]*$")]
Days = Annotated[int, msgspec.Meta(ge=0, le=3650)]

SHORT_TEXT_MAX = 200
LONG_TEXT_MAX = 5000


class Wording(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One text in German ("Sie", and "du" where it reads differently) and English."""

    de: Text
    en: Text = ""
    de_du: Text = ""

    def say(self, lang: str, form_of_address: str = "sie") -> str:
        if lang == "en" and self.en:
            return self.en
        if form_of_address == "du" and self.de_du:
            return self.de_du
        return self.de


class Option(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    key: Key
    label: Wording


class Question(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    key: Key
    type: QuestionType
    text: Wording
    required: bool = False
    help: Wording | None = None
    # single / multiple choice
    options: Annotated[list[Option], msgspec.Meta(max_length=30)] = msgspec.field(default_factory=list)
    # scale: the words for 1 (first) to 5 (last); none: just the numbers
    scale: Annotated[list[Wording], msgspec.Meta(max_length=5)] = msgspec.field(default_factory=list)
    # number
    min: float | None = None
    max: float | None = None
    signal: Signal | None = None
    # Shown to admins and the tandem's coordinator only, never in reports or exports for reporters.
    confidential: bool = False


class Content(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: Wording
    intro: Wording | None = None
    questions: Annotated[list[Question], msgspec.Meta(min_length=1, max_length=60)]


class QuestionnaireIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    content: Content
    kind: Kind = "custom"
    programme_id: uuid.UUID | None = None


class QuestionnairePatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    content: Content | msgspec.UnsetType = msgspec.UNSET
    programme_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    archived: bool | msgspec.UnsetType = msgspec.UNSET


class FromTemplateIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    template: Short
    programme_id: uuid.UUID | None = None


class VersionOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    number: int
    content: Content
    answered: int
    created_at: datetime


class QuestionnaireOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    kind: str
    template: str | None
    programme_id: uuid.UUID | None
    title: str
    version: int
    version_id: uuid.UUID
    content: Content
    archived: bool
    created_at: datetime


class TemplateOut(msgspec.Struct, kw_only=True):
    key: str
    kind: str
    title: str
    questions: int


class ScheduleIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    questionnaire_id: uuid.UUID
    audience: Audience
    trigger: Trigger
    after_days: Days = 0
    every_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None
    phase: Phase | None = None
    programme_id: uuid.UUID | None = None
    active: bool = True


class ScheduleOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    questionnaire_id: uuid.UUID
    audience: str
    trigger: str
    after_days: int
    every_days: int | None
    phase: str | None
    programme_id: uuid.UUID | None
    active: bool


class SettingsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    low_rating_threshold: Annotated[int, msgspec.Meta(ge=1, le=4)] = 2
    link_valid_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 21
    reminder_after_days: Annotated[int, msgspec.Meta(ge=0, le=90)] = 7
    consent_required: bool = False


class SettingsOut(SettingsIn, kw_only=True):
    pass


class SendIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    questionnaire_id: uuid.UUID
    audience: Audience
    phase: Phase | None = None


class InvitationOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    questionnaire_id: uuid.UUID
    match_id: uuid.UUID
    contact_id: uuid.UUID
    contact_name: str
    audience: str
    lang: str
    sent_at: datetime
    expires_at: datetime
    reminded_at: datetime | None
    submitted_at: datetime | None
    revoked_at: datetime | None
    # Only in the answer to a coordinator's sending by hand: the link, to pass on another way.
    link: str | None = None


class SentOut(msgspec.Struct, kw_only=True):
    items: list[InvitationOut]
    # People who could not be asked, and why (no e-mail address, no consent).
    skipped: list[dict[str, str]]


class AnswerIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    answers: Fields[Short, Any]
    lang: Literal["de", "en"] | None = None


class AnswerOut(msgspec.Struct, kw_only=True):
    key: str
    type: str
    question: str
    value: Any
    confidential: bool


class ResponseOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    questionnaire_id: uuid.UUID
    version: int
    title: str
    match_id: uuid.UUID
    audience: str
    phase: str | None
    submitted_at: datetime
    signals: list[str]
    answers: list[AnswerOut]

    @property
    def created_at(self) -> datetime:
        return self.submitted_at


class SubmittedOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    submitted_at: datetime


class ResponsePage(msgspec.Struct, kw_only=True):
    items: list[ResponseOut]


class ScaleFigure(msgspec.Struct, kw_only=True):
    question_key: str
    question: str
    answers: int | str
    average: float | None
    # counts for 1..5, "< 3" where fewer than three people gave an answer
    distribution: list[int | str]
    before: float | None = None
    after: float | None = None
    change: float | None = None


class VersionFigures(msgspec.Struct, kw_only=True):
    version: int
    invited: int | str
    responded: int | str
    response_rate: float | None
    questions: list[ScaleFigure]


class ReportOut(msgspec.Struct, kw_only=True):
    questionnaire_id: uuid.UUID
    title: str
    versions: list[VersionFigures]
