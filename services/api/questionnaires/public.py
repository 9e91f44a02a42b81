"""The pages a personal questionnaire link opens, at /q/{token}, and the same over JSON at
/api/v1/q/{token}: no account, phone first, no JavaScript.

An unknown, foreign, expired, revoked or answered link all answer the same friendly page (or the
same 404 problem), and nothing is written for any of them. Opening a link only shows the form;
only sending it keeps the answers (mail scanners open every link in an e-mail).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Template

from services.api.limits import refuse_nul
from services.api.problems import problem
from services.api.scope import app_settings, database
from services.api.web import i18n
from shared import i18n as shared_i18n
from shared import personal_links
from shared.models import Organization
from shared.questionnaires import answers
from shared.questionnaires.schemas import AnswerIn, Content, SubmittedOut

# Uses of one link within the window: enough for a person correcting a form, not for guessing.
RATE_LIMIT = 30
RATE_SECONDS = 600
SCOPE = "questionnaire"


def _now() -> datetime:
    return datetime.now(UTC)


def _lang(request: Request[Any, Any, Any], chosen: str | None, fallback: str | None = None) -> str:
    picked = i18n.pick(chosen) or i18n.pick(fallback)
    if picked:
        return picked
    for part in request.headers.get("accept-language", "").split(","):
        picked = i18n.pick(part.split(";")[0].strip())
        if picked:
            return picked
    return i18n.DEFAULT_LOCALE


def _t(lang: str, message: str, **params: Any) -> str:
    return i18n.gettext(lang, message, **params)


def _page(template: str, *, lang: str, status: int = 200, **values: Any) -> Template:
    return Template(
        template_name=template,
        context={"locale": lang, "org": None, "lang_links": [], **values},
        status_code=status,
    )


def gone(lang: str) -> Template:
    """The one page for every link that opens nothing."""
    return _page(
        "questionnaires/public_message.html",
        lang=lang,
        status=404,
        heading=_t(lang, "This link does not work (any more)"),
        lines=[
            _t(
                lang,
                "The link is unknown, has expired, or the questionnaire was already answered. "
                "If you would like to tell us something, please contact your coordinator.",
            )
        ],
    )


def _busy(lang: str) -> Template:
    return _page(
        "questionnaires/public_message.html",
        lang=lang,
        status=429,
        heading=_t(lang, "Please wait a moment"),
        lines=[_t(lang, "This link was used very often just now. Please try again in a few minutes.")],
    )


async def _within_rate(request: Request[Any, Any, Any], token: str) -> bool:
    return await personal_links.within_rate(
        request.app.state.redis, SCOPE, token, limit=RATE_LIMIT, seconds=RATE_SECONDS
    )


async def _posted(request: Request[Any, Any, Any]) -> dict[str, Any]:
    if not request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        return {}
    data = await request.form()
    fields: dict[str, Any] = {}
    for key in data:
        values = [v for v in data.getall(key) if isinstance(v, str)]
        fields[key] = values if len(values) > 1 or key.endswith("[]") else (values[0] if values else "")
    refuse_nul((k, v) for k, v in fields.items() if isinstance(v, str))
    return {k.removesuffix("[]"): v for k, v in fields.items()}


def view(content: Content, lang: str, address: str) -> list[dict[str, Any]]:
    """The questions in one language and form of address, ready for the template."""
    out = []
    for q in content.questions:
        out.append(
            {
                "key": q.key,
                "type": q.type,
                "text": q.text.say(lang, address),
                "help": q.help.say(lang, address) if q.help else "",
                "required": q.required,
                "options": [(o.key, o.label.say(lang, address)) for o in q.options],
                "scale": [(str(n), w.say(lang, address)) for n, w in zip(range(1, 6), q.scale, strict=False)]
                or [(str(n), str(n)) for n in range(1, 6)],
                "min": q.min,
                "max": q.max,
                "confidential": q.confidential,
            }
        )
    return out


def pgettext(context: str, message: str) -> tuple[str, str]:
    return (context, message)


# Who reads the answers, in both forms of address (listed twice so extraction finds each).
_READERS = {
    "du": pgettext("du", "Your answers are read by the coordinators of %(org)s, who accompany your tandem."),
    "sie": pgettext(
        "sie", "Your answers are read by the coordinators of %(org)s, who accompany your tandem."
    ),
}


# What the form says to a person who must correct an answer, for those addressed with "du"; the
# plain message ids (in shared.questionnaires.answers and the form) say it with "Sie".
_DU = [
    pgettext("du", "Please answer this question."),
    pgettext("du", "Please choose a value from 1 to 5."),
    pgettext("du", "Please choose one of the options."),
    pgettext("du", "Please answer yes or no."),
    pgettext("du", "Please enter a number."),
    pgettext("du", "Please enter a number from %(min)s to %(max)s."),
    pgettext("du", "Please write at most %(max)s characters."),
    pgettext("du", "This questionnaire has no such question."),
    pgettext("du", "Please check your answers"),
    pgettext("du", "What you write about worries is read only by your coordinator and the management."),
]


_WORRIES = "What you write about worries is read only by your coordinator and the management."


def addressed(lang: str, address: str, message: str, **params: Any) -> str:
    """A message of the form in the person's language and form of address."""
    if address == "du":
        return shared_i18n.pgettext(lang, address, message, domain="questionnaires", **params)
    return shared_i18n.gettext(lang, message, domain="questionnaires", **params)


def _readers(lang: str, address: str, org: str) -> str:
    context, message = _READERS["du" if address == "du" else "sie"]
    return shared_i18n.pgettext(lang, context, message, org=org)


class QuestionnairePages(Controller):
    path = "/q"
    include_in_schema = False

    async def _org(
        self, request: Request[Any, Any, Any], token: personal_links.LinkToken
    ) -> Organization | None:
        async with database(request).platform() as session:
            return await session.get(Organization, token.organization_id)

    def _form(
        self,
        org: Organization,
        opened: answers.Opened,
        token: str,
        lang: str,
        *,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> Template:
        address = opened.invitation.form_of_address
        path = f"/q/{token}"
        return _page(
            "questionnaires/public_form.html",
            lang=lang,
            status=status,
            org=org,
            readers=_readers(lang, address, org.name),
            title=opened.content.title.say(lang, address),
            intro=opened.content.intro.say(lang, address) if opened.content.intro else "",
            questions=view(opened.content, lang, address),
            action=path,
            lang_links=[(code, name, f"{path}?lang={code}") for code, name in i18n.LANGUAGE_NAMES.items()],
            values=values or {},
            errors=errors or {},
            confidential=any(q.confidential for q in opened.content.questions),
            check_heading=addressed(lang, address, "Please check your answers"),
            worries=addressed(lang, address, _WORRIES),
        )

    @get("/{token:str}")
    async def show(
        self, request: Request[Any, Any, Any], token: FromPath[str], lang: FromQuery[str | None] = None
    ) -> Template:
        parsed = personal_links.parse(token)
        if parsed is None:
            return gone(_lang(request, lang))
        if not await _within_rate(request, token):
            return _busy(_lang(request, lang))
        org = await self._org(request, parsed)
        if org is None:
            return gone(_lang(request, lang))
        async with database(request).tenant(org.id) as session:
            opened = await answers.find(session, parsed, _now())
        if opened is None:
            return gone(_lang(request, lang))
        return self._form(org, opened, token, _lang(request, lang, opened.invitation.lang))

    @post("/{token:str}", status_code=200)
    async def send(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
        posted = await _posted(request)
        chosen = posted.pop("lang", None)
        language = _lang(request, chosen if isinstance(chosen, str) else None)
        parsed = personal_links.parse(token)
        if parsed is None:
            return gone(language)
        if not await _within_rate(request, token):
            return _busy(language)
        org = await self._org(request, parsed)
        if org is None:
            return gone(language)
        settings = app_settings(request)
        try:
            async with database(request).tenant(org.id) as session:
                done = await answers.answer(
                    session,
                    org,
                    parsed,
                    posted,
                    language,
                    _now(),
                    strict=False,
                    public_url=settings.public_url,
                )
        except answers.Refused as refused:
            async with database(request).tenant(org.id) as session:
                opened = await answers.find(session, parsed, _now())
            if opened is None:
                return gone(language)
            return self._form(
                org,
                opened,
                token,
                language,
                values=posted,
                errors={
                    k: addressed(language, opened.invitation.form_of_address, p.message, **p.params)
                    for k, p in refused.problems.items()
                },
                status=422,
            )
        if done is None:
            return gone(language)
        return _page(
            "questionnaires/public_message.html",
            lang=language,
            org=org,
            heading=_t(language, "Thank you for your answers"),
            lines=[_t(language, "Your answers have been sent. You can close this page now.")],
        )


class PublicAnswerApi(Controller):
    """The same over JSON, for apps: the questionnaire a link opens, and sending its answers."""

    path = "/api/v1/q"
    tags = ["questionnaires (personal links)"]

    @get("/{token:str}", summary="The questionnaire a personal link opens")
    async def read(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
        parsed = personal_links.parse(token)
        if parsed is None or not await _within_rate(request, token):
            return (
                _not_found()
                if parsed is None
                else problem(429, "this link was used too often; wait a few minutes")
            )
        async with database(request).tenant(parsed.organization_id) as session:
            opened = await answers.find(session, parsed, _now())
        if opened is None:
            return _not_found()
        inv = opened.invitation
        return Response(
            {
                "lang": inv.lang,
                "form_of_address": inv.form_of_address,
                "expires_at": inv.expires_at.isoformat(),
                "content": opened.content,
            }
        )

    @post("/{token:str}", summary="Send the answers of a personal link (once)", status_code=201)
    async def submit(
        self, request: Request[Any, Any, Any], token: FromPath[str], data: JSONBody[AnswerIn]
    ) -> Response[Any]:
        parsed = personal_links.parse(token)
        if parsed is None:
            return _not_found()
        if not await _within_rate(request, token):
            return problem(429, "this link was used too often; wait a few minutes")
        settings = app_settings(request)
        try:
            async with database(request).tenant(parsed.organization_id) as session:
                done = await answers.answer(
                    session,
                    None,
                    parsed,
                    data.answers,
                    data.lang,
                    _now(),
                    strict=True,
                    public_url=settings.public_url,
                )
        except answers.Refused as refused:
            raise refused.as_validation() from None
        if done is None:
            return _not_found()
        return Response(
            SubmittedOut(id=done.response.id, submitted_at=done.response.submitted_at), status_code=201
        )


def _not_found() -> Response[Any]:
    return problem(404, "this link is unknown, expired, revoked or already answered")


ROUTES = [QuestionnairePages, PublicAnswerApi]
