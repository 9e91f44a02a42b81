"""Public sign-up forms at /f/{org_slug}/{form_slug}: no account, linkable and embeddable.

An unknown organisation, an unknown or inactive form and a confirmation link that does not
exist (or belongs to another organisation, or has run out) all get the same page, so these
addresses reveal nothing about who uses codo.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from services.api.limits import refuse_nul
from services.api.scope import app_settings, database
from services.api.web import i18n
from shared.errors import DomainError
from shared.intake import forms
from shared.models import Organization


def _lang(request: Request[Any, Any, Any], chosen: str | None) -> str:
    picked = i18n.pick(chosen)
    if picked:
        return picked
    for part in request.headers.get("accept-language", "").split(","):
        picked = i18n.pick(part.split(";")[0].strip())
        if picked:
            return picked
    return i18n.DEFAULT_LOCALE


def _t(lang: str, message: str) -> str:
    return i18n.gettext(lang, message)


def _page(template: str, *, lang: str, status: int = 200, **values: Any) -> Template:
    return Template(
        template_name=template,
        context={"locale": lang, "org": None, "embed": False, "lang_links": [], **values},
        status_code=status,
    )


def _missing(lang: str, embed: bool = False) -> Template:
    return _page(
        "intake/public_message.html",
        lang=lang,
        status=404,
        embed=embed,
        heading=_t(lang, "This page does not exist"),
        lines=[_t(lang, "The form or link is unknown, or it has expired.")],
    )


def _lang_links(path: str, embed: bool) -> list[tuple[str, str, str]]:
    suffix = "&embed=1" if embed else ""
    return [(code, name, f"{path}?lang={code}{suffix}") for code, name in i18n.LANGUAGE_NAMES.items()]


async def _posted(request: Request[Any, Any, Any]) -> dict[str, str]:
    if not request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        return {}
    data = await request.form()
    # Checkboxes of one multiple-choice field arrive as one name several times: kept as "a,b".
    fields = {k: ",".join(v for v in data.getall(k) if isinstance(v, str)) for k in data}
    refuse_nul(fields.items())
    return fields


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


class PublicFormPages(Controller):
    path = "/f"
    include_in_schema = False

    async def _render_form(
        self,
        request: Request[Any, Any, Any],
        org: Organization,
        form_id: Any,
        lang: str,
        embed: bool,
        *,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> Template:
        async with database(request).tenant(org.id) as session:
            public = await forms.public_form(session, org, form_id, lang)
        path = forms.public_path(org.slug, public.form.slug)
        labels = {f.name: f.label for f in public.fields}
        labels.update(
            {
                "first_name": _t(lang, "First name"),
                "last_name": _t(lang, "Last name"),
                "email": _t(lang, "E-mail address"),
                "child_first_name": _t(lang, "Child's first name"),
                "child_last_name": _t(lang, "Child's last name (if different from yours)"),
            }
        )
        labels.update({c.name: _t(lang, "Consent") for c in public.consents})
        return _page(
            "intake/public_form.html",
            lang=lang,
            status=status,
            org=org,
            embed=embed,
            public=public,
            action=path,
            lang_links=_lang_links(path, embed),
            stamp=forms.form_stamp(app_settings(request).secret, org.id, public.form.id),
            values=values or {},
            errors=errors or {},
            labels=labels,
        )

    @get("/{org_slug:str}/{form_slug:str}")
    async def show(
        self,
        request: Request[Any, Any, Any],
        org_slug: FromPath[str],
        form_slug: FromPath[str],
        lang: FromQuery[str | None] = None,
        embed: FromQuery[bool] = False,
    ) -> Template:
        language = _lang(request, lang)
        found = await forms.find_public_form(database(request), org_slug, form_slug)
        if found is None:
            return _missing(language, embed)
        org, form_id = found
        return await self._render_form(request, org, form_id, language, embed)

    @post("/{org_slug:str}/{form_slug:str}", status_code=200)
    async def send(
        self, request: Request[Any, Any, Any], org_slug: FromPath[str], form_slug: FromPath[str]
    ) -> Template:
        posted = await _posted(request)
        language = _lang(request, posted.get("lang"))
        embed = posted.get("embed") == "1"
        found = await forms.find_public_form(database(request), org_slug, form_slug)
        if found is None:
            return _missing(language, embed)
        org, form_id = found
        settings = app_settings(request)
        try:
            async with database(request).tenant(org.id) as session:
                public = await forms.public_form(session, org, form_id, language)
                await forms.submit(
                    session,
                    public,
                    posted,
                    secret=settings.secret,
                    redis=request.app.state.redis,
                    client=_client(request),
                    public_url=settings.public_url,
                )
        except forms.Refused as refused:
            kept = {k: v for k, v in posted.items() if k not in ("_stamp", "website")}
            return await self._render_form(
                request,
                org,
                form_id,
                language,
                embed,
                values=kept,
                errors=refused.errors,
                status=refused.status,
            )
        page = _page(
            "intake/public_message.html",
            lang=language,
            org=org,
            embed=embed,
            heading=_t(language, "Almost done: please check your e-mail"),
            lines=[
                _t(
                    language,
                    "We have sent you an e-mail with a link. Your sign-up counts once you follow it.",
                ),
                _t(language, "No e-mail? Look in your spam folder, or send the form again in a few minutes."),
            ],
        )
        return page

    async def _confirmable(
        self, request: Request[Any, Any, Any], org_slug: str, form_slug: str, token: str
    ) -> tuple[Organization, Any, bool] | None:
        found = await forms.find_public_form(database(request), org_slug, form_slug, active_only=False)
        if found is None:
            return None
        org, form_id = found
        async with database(request).tenant(org.id) as session:
            form = await forms.get_form(session, form_id)
            submission = await forms.pending_submission(session, form, token, datetime.now(UTC))
            if submission is None:
                return None
            return org, form_id, submission.status == "confirmed"

    @get("/{org_slug:str}/{form_slug:str}/confirm/{token:str}")
    async def confirm_page(
        self,
        request: Request[Any, Any, Any],
        org_slug: FromPath[str],
        form_slug: FromPath[str],
        token: FromPath[str],
        lang: FromQuery[str | None] = None,
    ) -> Template:
        language = _lang(request, lang)
        found = await self._confirmable(request, org_slug, form_slug, token)
        if found is None:
            return _missing(language)
        org, _, already = found
        if already:
            return self._thanks(language, org)
        # Following the link shows a button: mail scanners that open every link confirm nothing.
        return _page(
            "intake/public_message.html",
            lang=language,
            org=org,
            heading=_t(language, "Confirm your sign-up"),
            lines=[
                _t(language, "Please confirm that you want to sign up and that this is your e-mail address.")
            ],
            confirm_action=f"{forms.public_path(org.slug, form_slug)}/confirm/{quote(token)}",
        )

    @post("/{org_slug:str}/{form_slug:str}/confirm/{token:str}", status_code=200)
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        org_slug: FromPath[str],
        form_slug: FromPath[str],
        token: FromPath[str],
    ) -> Template:
        posted = await _posted(request)
        language = _lang(request, posted.get("lang"))
        found = await forms.find_public_form(database(request), org_slug, form_slug, active_only=False)
        if found is None:
            return _missing(language)
        org, form_id = found
        settings = app_settings(request)
        try:
            async with database(request).tenant(org.id) as session:
                form = await forms.get_form(session, form_id)
                done = await forms.confirm(session, org, form, token, public_url=settings.public_url)
        except DomainError:
            # The form's fields changed since the sign-up (a newly required field): nothing was saved.
            return _page(
                "intake/public_message.html",
                lang=language,
                status=422,
                org=org,
                heading=_t(language, "We could not finish your sign-up"),
                lines=[_t(language, "The form has changed in the meantime. Please fill it in again.")],
            )
        if done is None:
            return _missing(language)
        page = self._thanks(language, org)
        return page

    @staticmethod
    def _thanks(lang: str, org: Organization) -> Template:
        return _page(
            "intake/public_message.html",
            lang=lang,
            org=org,
            heading=_t(lang, "Thank you, your sign-up is confirmed"),
            lines=[_t(lang, "We will get in touch with you soon.")],
        )


ROUTES = [PublicFormPages]
