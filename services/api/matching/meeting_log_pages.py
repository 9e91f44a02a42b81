"""The mentors' meeting log at /meeting-log/{token}: no account, phone first, no JavaScript.

The token names its organisation, so the page looks the link up inside that organisation's
row-level security and nowhere else. A malformed, unknown, revoked or foreign link and the link
of an ended tandem all get the same friendly page. Opening the page writes nothing (mail
scanners open links); only sending the form does. Both are rate-limited per address and link.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

from babel.dates import format_date
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from services.api.limits import refuse_nul
from services.api.scope import app_settings, database
from services.api.web import i18n
from shared import clock, personal_links
from shared.actor import Actor
from shared.matching import meeting_links, meeting_log
from shared.models import Organization

# Opening or sending: per client address, and sending per link (a phone on a train retries).
VISITS_PER_WINDOW = 300
SENDS_PER_LINK = 30
WINDOW_SECONDS = 600


def _t(lang: str, message: str, **params: Any) -> str:
    return i18n.gettext(lang, message, **params)


def pgettext(context: str, message: str) -> tuple[str, str]:
    return (context, message)


# The form's messages for a mentor addressed with "du" (the plain message ids say it with "Sie"
# or without address); listed so that extraction finds each.
_DU = [
    pgettext("du", "Please fill this in."),
    pgettext("du", "Please give a date in the last %(days)s days, not in the future."),
    pgettext("du", "The tandem started later: please give a date from %(start)s."),
    pgettext("du", "Please give the minutes as a whole number from 1 to %(max)s."),
    pgettext("du", "Please choose how it went."),
    pgettext("du", "Please choose from the list."),
    pgettext("du", "Please write at most %(max)s characters."),
    pgettext("du", "Please tell us in a few words what worries you."),
    pgettext("du", "Please check your entries"),
]


def _addressed(lang: str, address: str, message: str, **params: Any) -> str:
    if address == "du":
        return i18n.pgettext(lang, address, message, domain="matching", **params)
    return _t(lang, message, **params)


def _page(template: str, *, lang: str, status: int = 200, **values: Any) -> Template:
    return Template(
        template_name=template,
        context={"locale": lang, "org": None, "embed": False, "lang_links": [], **values},
        status_code=status,
    )


def _lang(request: Request[Any, Any, Any], chosen: str | None, preferred: str | None = None) -> str:
    picked = i18n.pick(chosen)
    if picked:
        return picked
    if preferred:
        return preferred
    for part in request.headers.get("accept-language", "").split(","):
        picked = i18n.pick(part.split(";")[0].strip())
        if picked:
            return picked
    return i18n.DEFAULT_LOCALE


def _missing(lang: str) -> Template:
    return _page(
        "intake/public_message.html",
        lang=lang,
        status=404,
        heading=_t(lang, "This link does not work (any more)"),
        lines=[
            _t(lang, "The link is unknown, it has been replaced by a newer one, or the tandem has ended."),
            _t(lang, "If you want to note a meeting, please ask your coordinator for a new link."),
        ],
    )


def _busy(lang: str) -> Template:
    return _page(
        "intake/public_message.html",
        lang=lang,
        status=429,
        heading=_t(lang, "Please wait a moment"),
        lines=[
            _t(lang, "There were many attempts from here in a short time. Please try again in a few minutes.")
        ],
    )


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


async def _allowed(request: Request[Any, Any, Any], scope: str, key: str, limit: int) -> bool:
    return await personal_links.within_rate(
        request.app.state.redis, scope, key, limit=limit, seconds=WINDOW_SECONDS
    )


async def _posted(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
    if not request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        return {}
    data = await request.form()
    fields = {k: [v for v in data.getall(k) if isinstance(v, str)] for k in data}
    refuse_nul((k, ",".join(v)) for k, v in fields.items())
    return fields


class MeetingLogPages(Controller):
    path = meeting_links.PATH.rstrip("/")
    include_in_schema = False

    async def _render(
        self,
        request: Request[Any, Any, Any],
        token: str,
        lang: str | None,
        *,
        values: dict[str, list[str]] | None = None,
        errors: dict[str, tuple[str, dict[str, object]]] | None = None,
        saved: bool = False,
        status: int = 200,
    ) -> Template:
        """The form of the link's tandem, or the "does not work" page; reads only."""
        parsed = personal_links.parse(token)
        if parsed is None:
            return _missing(_lang(request, lang))
        async with database(request).tenant(parsed.organization_id) as session:
            found = await meeting_links.find(session, token)
            if found is None:
                return _missing(_lang(request, lang))
            view = await meeting_log.public_view(session, found)
        language = _lang(request, lang, view.mentor_language)
        address = view.mentor_address
        today = clock.today()
        action = f"{meeting_links.PATH}{quote(token)}"
        shown = values or {}
        return _page(
            "matching/meeting_log.html",
            lang=language,
            status=status,
            org=view.org,
            lang_links=[(code, name, f"{action}?lang={code}") for code, name in i18n.LANGUAGE_NAMES.items()],
            action=action,
            mentee=view.mentee_first_name,
            today=today,
            earliest=max(view.first_day, today - timedelta(days=meeting_log.MAX_DAYS_BACK)),
            recent=[format_date(d, format="medium", locale=language) for d in view.recent],
            saved=saved,
            value=lambda name, default="": (shown.get(name) or [default])[0],
            chosen=lambda name: shown.get(name, []),
            errors={k: _addressed(language, address, m, **p) for k, (m, p) in (errors or {}).items()},
            check_heading=_addressed(language, address, "Please check your entries"),
            activities=[(k, _t(language, label)) for k, label in meeting_log.ACTIVITIES.items()],
            ratings=[
                (n, _t(language, label)) for n, label in sorted(meeting_log.RATINGS.items(), reverse=True)
            ],
        )

    @get("/{token:str}")
    async def show(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        lang: FromQuery[str | None] = None,
        saved: FromQuery[bool] = False,
    ) -> Template:
        if not await _allowed(request, "meeting-log-visit", _client(request), VISITS_PER_WINDOW):
            return _busy(_lang(request, lang))
        return await self._render(request, token, lang, saved=saved)

    @post("/{token:str}", status_code=303)
    async def send(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Template | Redirect:
        posted = await _posted(request)
        lang = (posted.get("lang") or [""])[0] or None
        if not await _allowed(request, "meeting-log-visit", _client(request), VISITS_PER_WINDOW) or not (
            await _allowed(request, "meeting-log-send", token, SENDS_PER_LINK)
        ):
            return _busy(_lang(request, lang))
        parsed = personal_links.parse(token)
        if parsed is None:
            return _missing(_lang(request, lang))
        settings = app_settings(request)
        today = clock.today()
        async with database(request).tenant(parsed.organization_id) as session:
            found = await meeting_links.find(session, token)
            if found is None:
                return _missing(_lang(request, lang))
            entry = meeting_log.parse(posted, today, found.match.introduced_on or found.match.proposed_on)
            if isinstance(entry, meeting_log.Refused):
                refused = entry
            else:
                refused = None
                org = await session.get(Organization, parsed.organization_id)
                actor = Actor.system(
                    "meeting log of the mentor",
                    org_id=parsed.organization_id,
                    slug=org.slug if org else "",
                    public_url=settings.public_url,
                )
                await meeting_log.log(session, found, entry, actor=actor, today=today)
        if refused is not None:
            return await self._render(request, token, lang, values=posted, errors=refused.errors, status=422)
        suffix = f"&lang={lang}" if i18n.pick(lang) else ""
        return Redirect(f"{meeting_links.PATH}{quote(token)}?saved=1{suffix}", status_code=303)


ROUTES = [MeetingLogPages]
