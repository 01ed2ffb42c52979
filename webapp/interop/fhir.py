"""Questionnaires and answers as FHIR R4 resources (JSON), and answers read back from them.

Definitions become ``Questionnaire`` resources (every language: the form's own
language in ``text``, the others as the standard translation extension);
answers become ``QuestionnaireResponse`` resources whose subject is the patient
by identity number with the Swedish OID system. A ``collection`` Bundle holds
both, so a receiver can read the answers without asking us for the definitions.
Only plain dictionaries here: no database, no app.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from webapp.content.questionnaires import Questionnaire
from webapp.core.identity import identity_system

TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
# Lotsa's own names: questionnaires are canonical URNs (no server of ours answers for them),
# answer options are codes in a system per questionnaire.
CANONICAL = "urn:lotsa:questionnaire:{form}"
OPTIONS = "urn:lotsa:questionnaire:{form}:options"
LICENCE_TEXT = {"free": "Free to use.", "licence-required": "Requires a licence: each unit uses its own licensed form."}
ITEM_TYPES = {"single_choice": "choice", "scale": "integer", "vas": "integer", "number": "decimal", "text": "text",
              "info": "display"}


def _texts(texts: dict, lang: str) -> tuple[str | None, dict | None]:
    """The text in ``lang`` (or any) and a ``_text`` element with the other languages as translations."""
    if not texts:
        return None, None
    main = texts.get(lang) or next(iter(texts.values()))
    others = [{"extension": [{"url": "lang", "valueCode": code}, {"url": "content", "valueString": text}],
               "url": TRANSLATION} for code, text in sorted(texts.items()) if code != lang and text]
    return main, ({"extension": others} if others else None)


def _with_text(target: dict, key: str, texts: dict, lang: str) -> None:
    main, extension = _texts(texts, lang)
    if main is not None:
        target[key] = main
    if extension is not None:
        target[f"_{key}"] = extension


def _name(form_id: str) -> str:
    """A computer-friendly name as FHIR wants it (a capital letter, then letters, digits and _)."""
    name = form_id.replace("-", "_").upper()
    return name if name[:1].isalpha() else f"Q_{name}"


def questionnaire(form: Questionnaire) -> dict:
    """One definition as a FHIR Questionnaire."""
    lang = form.default_language
    resource = {"resourceType": "Questionnaire", "id": form.id, "url": CANONICAL.format(form=form.id),
                "name": _name(form.id), "status": "active", "language": lang,
                "copyright": " ".join([LICENCE_TEXT.get(form.licence, form.licence),
                                       *(f"{code}: {v.source}" for code, v in sorted(form.versions.items()) if v.source)])}
    _with_text(resource, "title", form.titles, lang)
    items = []
    for item in form.items:
        entry = {"linkId": item.id, "type": ITEM_TYPES[item.type]}
        if item.type != "info":
            entry["required"] = item.required
        _with_text(entry, "text", item.texts, lang)
        if item.options:
            entry["answerOption"] = []
            for option in item.options:
                coding = {"system": OPTIONS.format(form=form.id), "code": str(option.value)}
                _with_text(coding, "display", option.labels, lang)
                entry["answerOption"].append({"valueCoding": coding})
        items.append(entry)
    resource["item"] = items
    return resource


def _answer(form: Questionnaire, item, value) -> dict:
    if item.options:
        coding = {"system": OPTIONS.format(form=form.id), "code": str(value)}
        option = next((o for o in item.options if o.value == value), None)
        if option is not None and option.labels:
            coding["display"] = option.labels.get(form.default_language) or next(iter(option.labels.values()))
        return {"valueCoding": coding}
    if item.type == "text":
        return {"valueString": str(value)}
    if item.type == "number":
        return {"valueDecimal": value}
    return {"valueInteger": int(value)}


def _instant(at: datetime) -> str:
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).isoformat(
        timespec="seconds")


def questionnaire_response(form: Questionnaire, submission, personal_number: str | None) -> dict:
    """One submission as a FHIR QuestionnaireResponse about the patient (by identity number)."""
    given = json.loads(submission.answers)
    items = []
    for item in form.items:
        value = given.get(item.id)
        if item.type == "info" or value is None or value == "":
            continue
        items.append({"linkId": item.id, "answer": [_answer(form, item, value)]})
    resource = {"resourceType": "QuestionnaireResponse", "id": f"lotsa-response-{submission.id}",
                "questionnaire": CANONICAL.format(form=form.id), "status": "completed",
                "authored": _instant(submission.submitted_at), "item": items}
    if personal_number:
        resource["subject"] = {"type": "Patient",
                               "identifier": {"system": identity_system(personal_number), "value": personal_number}}
    return resource


def bundle(forms: list[Questionnaire], responses: list[tuple[object, str | None]], catalogue_forms: dict,
           now: datetime) -> dict:
    """A collection Bundle: the definitions, then each (submission, identity number) as a response."""
    entries = [{"fullUrl": CANONICAL.format(form=form.id), "resource": questionnaire(form)} for form in forms]
    for submission, personal_number in responses:
        form = catalogue_forms[submission.form_id]
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'lotsa-response-{submission.id}')}",
                        "resource": questionnaire_response(form, submission, personal_number)})
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "collection", "timestamp": _instant(now),
            "entry": entries}


def answers_of(response: dict) -> dict:
    """A QuestionnaireResponse's answers as Lotsa stores them ({linkId: value}): the reverse of the export."""
    result = {}
    for item in response.get("item", []):
        answer = item["answer"][0]
        if "valueCoding" in answer:
            result[item["linkId"]] = int(answer["valueCoding"]["code"])
        else:
            result[item["linkId"]] = next(v for k, v in answer.items() if k.startswith("value"))
    return result
