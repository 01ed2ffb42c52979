"""The patient information library: public information programmes, and pages sent to patients.

A programme with ``public: true`` in its programme.yaml is patient information
that anyone may read without logging in (see library/views.py). A clinician can
also send one of its pages to a patient within an enrolment: it is listed on the
patient's start page, in the patient's language where it exists, and the patient
gets a notification that says only that something is waiting.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from webapp.content.services import Catalogue, Module, ModuleVersion, Programme
from webapp.core.queries import Bound
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.library.models import SharedInformation
from webapp.notifications.services import Kind, notify


class LibraryError(ValueError):
    """A request the library cannot carry out; ``code`` says why."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def public_programmes(catalogue: Catalogue) -> list[Programme]:
    """Programmes marked public, in catalogue order."""
    return [p for p in catalogue.programmes.values() if p.public]


def public_module(catalogue: Catalogue, programme_id: str, module_id: str) -> tuple[Programme, Module] | None:
    """A published module of a public programme, or None (unknown, hidden or not public)."""
    programme = catalogue.programmes.get(programme_id)
    if programme is None or not programme.public:
        return None
    module = programme.module(module_id)
    if module is None or not module.is_publishable:
        return None
    return programme, module


def languages_of(programme: Programme, module: Module) -> list[str]:
    """The languages a module can be read in: its own files without errors, in the programme's order."""
    return [lang for lang in programme.languages
            if lang in module.versions and not module.versions[lang].has_errors]


def version_for(programme: Programme, module: Module, locale: str) -> tuple[ModuleVersion, str]:
    """The version a reader of ``locale`` gets, and its language (the default if ``locale`` is missing)."""
    version, _fallback = module.version(locale)
    return version, version.lang


def information_choices(catalogue: Catalogue, locale: str) -> list[tuple[str, str]]:
    """What a clinician may send: ("programme/module", title in the clinician's language)."""
    choices = []
    for programme in public_programmes(catalogue):
        for module in programme.published_modules:
            version, _lang = version_for(programme, module, locale)
            label = version.title if version.title == programme.title(locale) else f"{programme.title(locale)}: {version.title}"
            choices.append((f"{programme.id}/{module.id}", label))
    return choices


def share(catalogue: Catalogue, enrolment, choice: str, clinician) -> SharedInformation:
    """Send one information page to the enrolment's patient and tell them, without saying what it is."""
    programme_id, _, module_id = (choice or "").partition("/")
    if public_module(catalogue, programme_id, module_id) is None:
        raise LibraryError("unknown")
    if not enrolment.has_access:
        raise LibraryError("closed")
    row = SharedInformation(enrolment_id=enrolment.id, programme_id=programme_id, module_id=module_id,
                            shared_by_id=clinician.id)
    db.session.add(row)
    # Content-free: the notification names neither the information nor the programme.
    notify(enrolment.patient, Kind.INFORMATION_SHARED, {"url": external_url("auth.login")})
    return row


_SHARED = (select(SharedInformation).where(SharedInformation.enrolment_id.in_(bindparam("shared_ids", expanding=True)))
           .order_by(SharedInformation.shared_at.desc(), SharedInformation.id.desc()))


def shared_query(enrolment_ids: list[int]) -> Bound | None:
    """The query of ``shared_for`` (None: no enrolments to ask about)."""
    if not enrolment_ids:
        return None
    return Bound(_SHARED, {"shared_ids": list(enrolment_ids)})


def shared_for(enrolment_ids: list[int]) -> dict[int, list[SharedInformation]]:
    """Information sent within each enrolment, newest first."""
    result: dict[int, list[SharedInformation]] = {}
    query = shared_query(enrolment_ids)
    if query is None:
        return result
    for row in db.session.scalars(query.statement, query.params):
        result.setdefault(row.enrolment_id, []).append(row)
    return result


def reading_language(programme: Programme, module: Module, locale: str) -> str:
    """The language a patient reading ``locale`` gets this page in (their own, else the default)."""
    return locale if locale in languages_of(programme, module) else programme.default_language


def sent_items(catalogue: Catalogue, rows: list[SharedInformation], locale: str) -> list[dict]:
    """Rows as the pages show them: title and language for a reader of ``locale``; gone pages left out."""
    items = []
    for row in rows:
        found = public_module(catalogue, row.programme_id, row.module_id)
        if found is None:
            continue  # the information was withdrawn from the library
        programme, module = found
        lang = reading_language(programme, module, locale)
        items.append({"row": row, "programme": programme, "module": module, "lang": lang,
                      "title": module.versions[lang].title, "is_fallback": lang != locale})
    return items


def handouts(catalogue: Catalogue, locale: str) -> list[dict]:
    """Every public page for the print links: its title in the patient's language, and every language
    it can be printed in, the patient's first (a patient may read another language better)."""
    result = []
    for programme in public_programmes(catalogue):
        for module in programme.published_modules:
            lang = reading_language(programme, module, locale)
            languages = languages_of(programme, module)
            result.append({"programme": programme, "module": module, "lang": lang,
                           "title": module.versions[lang].title,
                           "languages": [lang] + [code for code in languages if code != lang]})
    return result
