"""The first draft of a reply to the referring unit, written from what Lotsa knows.

The clinician reviews and edits every section before it is saved
(``replies.services.save``); nothing here is sent anywhere. Sections are plain
text in the clinician's language, so the reply reads the same on screen, on
paper and in the patient's copy.
"""

from __future__ import annotations

from flask_babel import gettext as _

from webapp.careplan import services as plan_services
from webapp.careplan.forms import CONTACT_LABELS, RESPONSIBLE_LABELS
from webapp.clinician import overview
from webapp.content.services import get_catalogue
from webapp.core.dates import format_day, format_moment
from webapp.programme import services as patient_services
from webapp.questionnaires.services import history as questionnaire_history
from webapp.questionnaires.views import band_label


def _score(form, submission) -> str:
    if submission.total is None:
        return "–"
    text = f"{submission.total:g}"
    return f"{text} ({band_label(form, submission.band)})" if submission.band else text


def done_text(enrolment, programme, locale: str) -> str:
    """The programme, its dates and the modules the patient finished (and the ones left)."""
    lines = []
    title = programme.title(locale) if programme else enrolment.programme_id
    period = format_day(enrolment.started_at) if enrolment.started_at else _("not started")
    if enrolment.closed_at:
        period += f" – {format_day(enrolment.closed_at)}"
    lines.append(_("Programme: %(programme)s, from %(period)s.", programme=title, period=period))
    if programme is None:
        return "\n".join(lines)
    schedule = patient_services.schedule_for(enrolment, programme)
    planned = [s for s in schedule if not s.is_skipped]
    finished = [s for s in planned if s.is_done]
    lines.append(_("Modules finished: %(done)s of %(total)s.", done=len(finished), total=len(planned)))
    for item in finished:
        lines.append(f"– {item.module.version(locale)[0].title} "
                     f"({format_day(item.progress.completed_at)})")
    left = [s for s in planned if not s.is_done]
    if left:
        lines.append(_("Not finished: %(modules)s.",
                       modules=", ".join(s.module.version(locale)[0].title for s in left)))
    return "\n".join(lines)


def questionnaire_text(enrolment, locale: str) -> str:
    """Each questionnaire's first and latest score, the change and whether it is reliable."""
    forms = get_catalogue().forms
    lines = []
    for form, rows, _submissions in overview.outcomes(enrolment, questionnaire_history(enrolment), forms):
        first, last = rows[0], rows[-1]
        title = form.title(locale)
        if len(rows) == 1:
            lines.append(_("%(form)s: %(score)s on %(date)s (answered once).", form=title,
                           score=_score(form, first.submission), date=format_day(first.submission.submitted_at)))
            continue
        line = _("%(form)s: before %(before)s (%(first)s), latest %(after)s (%(last)s)", form=title,
                 before=_score(form, first.submission), first=format_day(first.submission.submitted_at),
                 after=_score(form, last.submission), last=format_day(last.submission.submitted_at))
        if last.change is not None:
            line += "; " + _("change %(change)s points", change=f"{last.change:+g}")
            if form.reliable_change:
                line += ", " + (_("a reliable change") if last.is_reliable else _("not a reliable change"))
        lines.append(line + ".")
    return "\n".join(lines) or _("No questionnaire was answered.")


def plan_text(enrolment) -> str:
    """The care plan the patient saw (goals, activities, review date) and the follow-up contacts."""
    lines = []
    plan = plan_services.get_plan(enrolment)
    if plan is not None and plan.current is not None:
        content = plan_services.content_of(plan.current)
        agreed = (_("agreed by the patient on %(date)s", date=format_day(plan.current.agreed_at))
                  if plan.current.agreed_at else _("not yet agreed by the patient"))
        lines.append(_("Care plan, version %(n)s (%(agreed)s):", n=plan.current.number, agreed=agreed))
        for goal in content["goals"]:
            lines.append("– " + _("Goal: %(matters)s. Able to: %(able)s", matters=goal["matters"],
                                  able=goal["able_to"] or "–"))
        for activity in content["activities"]:
            who = RESPONSIBLE_LABELS.get(activity["who"], activity["who"])
            lines.append(f"– {activity['what']} ({who}{', ' + activity['when'] if activity['when'] else ''})")
        if content.get("review_on"):
            lines.append(_("Review on %(date)s.", date=format_day(content["review_on"])))
    else:
        lines.append(_("No care plan was shared with the patient."))
    contacts = plan_services.contacts_for(enrolment)
    if contacts:
        lines.append(_("Follow-up contacts:"))
        outcome = {"kept": _("took place"), "missed": _("missed"), None: _("not yet held")}
        for contact in reversed(contacts):  # in the order they happened
            lines.append(f"– {format_moment(contact.due_at)} {CONTACT_LABELS.get(contact.kind, contact.kind)}"
                         f"{': ' + contact.purpose if contact.purpose else ''} – {outcome.get(contact.outcome, '')}")
    return "\n".join(lines)


def draft(enrolment, programme, locale: str) -> dict[str, str]:
    """The sections of a new reply, filled in from the enrolment; the recommendations are the clinician's."""
    return {"done": done_text(enrolment, programme, locale), "questionnaires": questionnaire_text(enrolment, locale),
            "plan": plan_text(enrolment), "recommendations": ""}
