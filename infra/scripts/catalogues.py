"""Extract every message id and keep the catalogues complete: ``make catalogues``.

Reads ``babel.cfg``, extracts pages, e-mails and domain error messages, and adds each message id
that no catalogue of a language has yet to its domain's ``.po`` file (with an empty
translation for a translator to fill). Nothing is ever removed or reworded. ``--check`` only
reports: it exits 1 while a message id is missing from a language or has no German text.

A message belongs to the domain of the file it comes from: ``shared/<domain>/`` and
``services/api/<domain>/`` to ``<domain>``, the modules directly in ``shared/`` to
``platform``, the web shell to ``messages``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ("de", "en")

KEYWORDS: dict[str, object] = {
    "_": None,
    "N_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "_t": (2,),
    "tr": (2,),
    # Domain errors: the first argument is the message id (shared/errors.py).
    "DomainError": None,
    "ValidationFailed": None,
    "NotFound": None,
    "Forbidden": None,
    "Conflict": None,
    "CsrfRejected": None,
    "_Bad": (2,),
    "InvalidValue": None,
}

# Web modules not yet in their domain's home, by the domain whose catalogue holds their texts.
LEGACY_WEB = {
    "controllers/contact_pages.py": "contacts",
    "controllers/contacts.py": "contacts",
    "controllers/imports.py": "contacts",
    "controllers/intake_pages.py": "intake",
    "controllers/intake.py": "intake",
    "controllers/public_forms.py": "intake",
    "controllers/matching.py": "matching",
    "controllers/tasks.py": "tasks",
    "controllers/notifications.py": "tasks",
    "controllers/appointments.py": "tasks",
    "controllers/calendar_feed.py": "tasks",
    "controllers/reports.py": "reporting",
    "web/templates/contacts": "contacts",
    "web/templates/intake": "intake",
    "web/templates/matching": "matching",
    "web/templates/tasks": "tasks",
    "web/templates/reports": "reporting",
}


@dataclass(frozen=True)
class Message:
    id: str | tuple[str, str]
    context: str | None
    path: str

    @property
    def key(self) -> str:
        return self.id if isinstance(self.id, str) else self.id[0]


def extract() -> Iterator[Message]:
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    for path, _line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        if path.startswith((".venv/", "tests/")):
            continue
        yield Message(message, context, path)


def home(path: str) -> tuple[Path, str]:
    """The folder whose ``locale/`` holds the message, and the domain (catalogue file name)."""
    parts = Path(path).parts
    if parts[0] == "shared":
        if len(parts) > 2 and (ROOT / "shared" / parts[1]).is_dir():
            return ROOT / "shared" / parts[1], parts[1]
        return ROOT / "shared", "platform"
    if parts[:2] == ("services", "api"):
        inner = "/".join(parts[2:])
        for prefix, domain in LEGACY_WEB.items():
            if inner.startswith(prefix):
                return ROOT / "services" / "api" / domain, domain
        if len(parts) > 3 and parts[2] not in ("web", "controllers"):
            return ROOT / "services" / "api" / parts[2], parts[2]
    return ROOT / "services" / "api" / "web", "messages"


def po_path(folder: Path, locale: str, domain: str) -> Path:
    return folder / "locale" / locale / "LC_MESSAGES" / f"{domain}.po"


def known(locale: str, *, shared_only: bool = False) -> dict[tuple[str | None, str], bool]:
    """Every (context, message id) of a language's catalogues, and whether it has a text.

    ``shared_only``: the catalogues under ``shared/`` alone, all the worker can see (e-mails and
    domain errors must be complete there)."""
    found: dict[tuple[str | None, str], bool] = {}
    files = sorted(ROOT.glob(f"shared/**/locale/{locale}/LC_MESSAGES/*.po"))
    if not shared_only:
        files += sorted(ROOT.glob(f"services/api/*/locale/{locale}/LC_MESSAGES/*.po"))
    for po in files:
        with po.open("rb") as f:
            for m in read_po(f, locale=locale):
                if not m.id:
                    continue
                key = (m.context, m.id if isinstance(m.id, str) else m.id[0])
                text = m.string if isinstance(m.string, str) else "".join(m.string or ())
                found[key] = found.get(key, False) or bool(text)
    return found


def problems() -> list[str]:
    """Message ids missing from a language, or without a German text."""
    out = []
    catalogues = {
        (locale, only): known(locale, shared_only=only) for locale in LOCALES for only in (False, True)
    }
    for m in sorted(set(extract()), key=lambda m: (m.path, m.key)):
        for locale in LOCALES:
            state = catalogues[(locale, m.path.startswith("shared/"))].get((m.context, m.key))
            if state is None:
                out.append(f"{locale}: missing {m.key!r} ({m.path})")
            elif locale == "de" and not state:
                out.append(f"de: no German for {m.key!r} ({m.path})")
    return sorted(set(out))


def update() -> int:
    added = 0
    messages = sorted(set(extract()), key=lambda m: (m.path, m.key))
    for locale in LOCALES:
        have = {only: known(locale, shared_only=only) for only in (False, True)}
        files: dict[Path, Catalog] = {}
        for m in messages:
            in_shared = m.path.startswith("shared/")
            if (m.context, m.key) in have[in_shared]:
                continue
            folder, domain = home(m.path)
            path = po_path(folder, locale, domain)
            if path not in files:
                if path.exists():
                    with path.open("rb") as f:
                        files[path] = read_po(f, locale=locale)
                else:
                    files[path] = Catalog(locale=locale, project="codo", fuzzy=False)
            flags = ("python-format",) if "%(" in m.key else ()
            files[path].add(m.id, "" if isinstance(m.id, str) else ("", ""), context=m.context, flags=flags)
            have[in_shared][(m.context, m.key)] = False
            if in_shared:
                have[False][(m.context, m.key)] = False
            added += 1
        for path, catalog in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as f:
                write_po(f, catalog, width=100, omit_header=False)
    return added


def main(argv: list[str]) -> int:
    if "--check" in argv:
        found = problems()
        print("\n".join(found) or "every message id is in every catalogue")
        return 1 if found else 0
    print(f"added {update()} message ids; fill in the empty German texts")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
