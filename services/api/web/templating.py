"""The Jinja2 environment: autoescaping, the i18n extension bound to each page's locale, helpers."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, pass_context
from jinja2.runtime import Context
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from markupsafe import Markup, escape

from services.api.web import i18n
from services.api.web.assets import static_url

TEMPLATES = Path(__file__).resolve().parent / "templates"
# services/api: each domain's home keeps its pages' templates in ``<domain>/templates/``,
# addressed as ``<domain>/<name>.html``.
API_ROOT = Path(__file__).resolve().parent.parent
HTMX = "htmx-2.0.8.min.js"


@pass_context
def _gettext(context: Context, message: str) -> str:
    return i18n.gettext(context.get("locale") or i18n.DEFAULT_LOCALE, message)


@lru_cache(maxsize=16_384)
def _marked(locale: str, message: str) -> Markup:
    # The catalogues' texts are codo's own, trusted as markup as Jinja's gettext trusts them.
    return Markup(i18n.gettext(locale, message)) % {}  # noqa: S704


@pass_context
def _text(context: Context, message: str, **variables: Any) -> str:
    """``{{ _("...") }}`` as Jinja's new-style gettext answers it (the translation as markup, its
    ``%(name)s`` filled with escaped values), without its detour through the context for each
    text: a page asks for hundreds, and a text without values is the same markup every time."""
    locale = context.get("locale") or i18n.DEFAULT_LOCALE
    if not context.eval_ctx.autoescape:
        return i18n.gettext(locale, message) % variables
    if not variables:
        return _marked(locale, message)
    return Markup(i18n.gettext(locale, message)) % variables  # noqa: S704 (values are escaped)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return i18n.ngettext(context.get("locale") or i18n.DEFAULT_LOCALE, singular, plural, n)


@pass_context
def _message_of(context: Context, error: Any) -> str:
    """A domain error in the page's language: ``{{ message_of(error) }}``."""
    return i18n.message(context.get("locale") or i18n.DEFAULT_LOCALE, error)


@pass_context
def _csrf_field(context: Context) -> Markup:
    return Markup('<input type="hidden" name="_csrf" value="{}">').format(
        escape(context.get("csrf_token", ""))
    )


def _date(value: Any, locale: str = "de") -> str:
    """A point in time in the page's locale (26.11.2026, 14:30); a plain date as a day."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return i18n.moment(locale, value)
    return i18n.day(locale, value)


@pass_context
def _day(context: Context, value: Any) -> str:
    """``{{ x.due_date|day }}``: 26.11.2026 on a German page, Nov 26, 2026 on an English one."""
    return i18n.day(context.get("locale") or i18n.DEFAULT_LOCALE, value)


@pass_context
def _moment(context: Context, value: Any) -> str:
    return i18n.moment(context.get("locale") or i18n.DEFAULT_LOCALE, value)


@pass_context
def _number(context: Context, value: Any) -> str:
    return i18n.number(context.get("locale") or i18n.DEFAULT_LOCALE, value)


@pass_context
def _language(context: Context, code: Any) -> str:
    return i18n.language_name(context.get("locale") or i18n.DEFAULT_LOCALE, code)


@pass_context
def _label(context: Context, key: Any, vocabulary: str) -> str:
    """``{{ c.purpose|label("purpose") }}``: a stored key by its label, never the key itself."""
    return i18n.label(context.get("locale") or i18n.DEFAULT_LOCALE, vocabulary, key)


def loader() -> BaseLoader:
    homes = {
        folder.parent.name: FileSystemLoader(folder)
        for folder in sorted(API_ROOT.glob("*/templates"))
        if folder.parent.name != "web"
    }
    return ChoiceLoader([PrefixLoader(homes), FileSystemLoader(TEMPLATES)])


def environment() -> Environment:
    env = Environment(
        loader=loader(),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(gettext=_text, _=_text)
    env.globals.update(
        csrf_field=_csrf_field,
        message_of=_message_of,
        htmx_script=static_url(HTMX),
        static_url=static_url,
        languages=i18n.LANGUAGE_NAMES,
    )
    env.filters.update(when=_date, day=_day, moment=_moment, number=_number, label=_label, language=_language)
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))
