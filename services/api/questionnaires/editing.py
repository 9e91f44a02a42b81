"""Questionnaires from plain forms: the fields of a question, a title or an introduction, turned
into the same content the API takes, and the content's field names turned back into the form's.

Every text has three inputs (German with "Sie", German with "du", English); a choice question
has rows of option inputs (its options and a few empty rows; an emptied row drops the option), a
scale question five rows of labels. Keys are made from the German wording, once: a question or
option keeps its key when its wording changes, so its answers stay comparable across versions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import msgspec

from shared.errors import ValidationFailed
from shared.questionnaires.schemas import Content, Option, Question, Wording

TYPES = ("scale", "single", "multiple", "yes_no", "number", "short_text", "long_text")
SIGNALS = ("worry", "low_rating", "would_not_continue")
FORMS = ("de", "de_du", "en")
# Empty option rows a form offers beyond the options a question has (more after saving).
SPARE_OPTIONS = 3
MAX_OPTIONS = 30
WORDING_MAX = 1000
TITLE_MAX = 200

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def key_from(text: str, taken: Iterable[str], fallback: str) -> str:
    """A key (``^[a-z][a-z0-9_]*$``, at most 50 characters) from German words, unlike ``taken``."""
    plain = unicodedata.normalize("NFKD", text.lower().translate(_UMLAUTS))
    plain = plain.encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", plain)
    base = "_".join(words)[:40].strip("_") or fallback
    if not base[0].isalpha():
        base = f"{fallback}_{base}"[:40]
    used = set(taken)
    key, n = base, 2
    while key in used:
        key = f"{base}_{n}"
        n += 1
    return key


def _text(form: dict[str, str], name: str, limit: int = WORDING_MAX) -> str:
    value = form.get(name, "").replace("\r\n", "\n").strip()
    if len(value) > limit:
        raise ValidationFailed("at most %(limit)s characters", field=name, limit=limit)
    return value


def wording(form: dict[str, str], prefix: str, *, required: bool, limit: int = WORDING_MAX) -> Wording | None:
    """The three inputs ``<prefix>_de``, ``<prefix>_de_du`` and ``<prefix>_en``; None when all are empty."""
    de, du, en = (_text(form, f"{prefix}_{f}", limit) for f in FORMS)
    if not de:
        if required:
            raise ValidationFailed("write the German text (with Sie)", field=f"{prefix}_de")
        if du or en:
            raise ValidationFailed(
                "write the German text (with Sie) too; the other two are optional", field=f"{prefix}_de"
            )
        return None
    return Wording(de=de, de_du=du, en=en)


def _number(form: dict[str, str], name: str) -> float | None:
    raw = form.get(name, "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed("enter a number", field=name) from None
    if not abs(value) < 1e9:
        raise ValidationFailed("enter a number", field=name)
    return value


def question(form: dict[str, str], *, key: str, old: Question | None = None) -> Question:
    """The question the form describes (``key`` is the question's, new or kept)."""
    kind = form.get("type", "")
    if kind not in TYPES:
        raise ValidationFailed("choose one from the list", field="type")
    signal = form.get("signal", "") or None
    if signal is not None and signal not in SIGNALS:
        raise ValidationFailed("choose one from the list", field="signal")
    text = wording(form, "text", required=True)
    assert text is not None
    options: list[Option] = []
    if kind in ("single", "multiple"):
        taken = [o.key for o in old.options] if old else []
        for i in range(MAX_OPTIONS + SPARE_OPTIONS):
            label = wording(form, f"opt{i}", required=False, limit=TITLE_MAX)
            if label is None:
                continue
            kept = form.get(f"opt{i}_key", "")
            if kept not in taken:
                kept = key_from(label.de, [o.key for o in options] + taken, "option")
            if kept in {o.key for o in options}:
                kept = key_from(label.de, [o.key for o in options] + taken, "option")
            options.append(Option(key=kept, label=label))
        if len(options) > MAX_OPTIONS:
            raise ValidationFailed("at most %(limit)s options", field="options", limit=MAX_OPTIONS)
    scale: list[Wording] = []
    if kind == "scale":
        labels = [wording(form, f"scale{n}", required=False, limit=TITLE_MAX) for n in range(1, 6)]
        if any(labels):
            for n, label in enumerate(labels, 1):
                if label is None:
                    raise ValidationFailed("give a label for each of 1 to 5, or none", field=f"scale{n}_de")
            scale = [label for label in labels if label is not None]
    low = high = None
    if kind == "number":
        low, high = _number(form, "min"), _number(form, "max")
    return Question(
        key=key,
        type=kind,  # type: ignore[arg-type]
        text=text,
        required=form.get("required") == "on",
        help=wording(form, "help", required=False),
        options=options,
        scale=scale,
        min=low,
        max=high,
        signal=signal,  # type: ignore[arg-type]
        confidential=form.get("confidential") == "on",
    )


def values_of(q: Question | None) -> dict[str, str]:
    """A question as the form's field values, to fill in the edit form."""
    if q is None:
        return {"type": "scale"}
    out: dict[str, str] = {"type": q.type, "signal": q.signal or ""}
    for prefix, w in (("text", q.text), ("help", q.help)):
        if w is not None:
            out.update({f"{prefix}_de": w.de, f"{prefix}_de_du": w.de_du, f"{prefix}_en": w.en})
    for i, o in enumerate(q.options):
        out.update(
            {
                f"opt{i}_key": o.key,
                f"opt{i}_de": o.label.de,
                f"opt{i}_de_du": o.label.de_du,
                f"opt{i}_en": o.label.en,
            }
        )
    for n, w in enumerate(q.scale, 1):
        out.update({f"scale{n}_de": w.de, f"scale{n}_de_du": w.de_du, f"scale{n}_en": w.en})
    if q.min is not None:
        out["min"] = _plain(q.min)
    if q.max is not None:
        out["max"] = _plain(q.max)
    if q.required:
        out["required"] = "on"
    if q.confidential:
        out["confidential"] = "on"
    return out


def _plain(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def option_rows(values: dict[str, str]) -> int:
    """How many option rows the form shows: every filled one and a few empty ones."""
    filled = [i for i in range(MAX_OPTIONS + SPARE_OPTIONS) if any(values.get(f"opt{i}_{f}") for f in FORMS)]
    return min((max(filled) + 1 if filled else 0) + SPARE_OPTIONS, MAX_OPTIONS + SPARE_OPTIONS)


def heading(form: dict[str, str]) -> tuple[Wording, Wording | None]:
    """Title and introduction from their inputs."""
    title = wording(form, "title", required=True, limit=TITLE_MAX)
    assert title is not None
    return title, wording(form, "intro", required=False, limit=5000)


def heading_values(content: Content) -> dict[str, str]:
    out = {"title_de": content.title.de, "title_de_du": content.title.de_du, "title_en": content.title.en}
    if content.intro is not None:
        out.update(
            {"intro_de": content.intro.de, "intro_de_du": content.intro.de_du, "intro_en": content.intro.en}
        )
    return out


_CONTENT_FIELD = re.compile(r"^content\.questions\[(\d+)\]\.(.+)$")


def form_field(field: str | None) -> str | None:
    """The form's name for a field the service names (``content.questions[3].text.de`` -> ``text_de``)."""
    if field is None:
        return None
    if field.startswith("content.title."):
        return "title_" + field.removeprefix("content.title.")
    found = _CONTENT_FIELD.match(field)
    if found is None:
        return field
    rest = found.group(2)
    if rest.startswith(("text.", "help.")):
        return rest.replace(".", "_", 1)
    if rest in ("key", "options", "scale", "min", "max", "signal", "type"):
        return {"key": "text_de"}.get(rest, rest)
    return rest


def content_with(content: Content, **changes: Any) -> Content:
    return msgspec.structs.replace(content, **changes)
