"""Patient pages: start page, module list, module pages, answers and the summary."""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user

from webapp.account.services import onboarding_pending
from webapp.careplan import services as plan_services
from webapp.content.services import get_catalogue
from webapp.core import drafts as kept_drafts
from webapp.core.access import role_required
from webapp.core.dates import format_day, local_today
from webapp.core.db import utcnow
from webapp.core.markdown import render_markdown
from webapp.core.numbers import int_or_none
from webapp.core.queries import found_by
from webapp.extensions import db
from webapp.groups import services as group_services
from webapp.library import services as library_services
from webapp.messages.services import conversations_for
from webapp.programme import diaries, enrolments, services
from webapp.questionnaires import services as questionnaire_services
from webapp.replies import services as reply_services

bp = Blueprint("programme", __name__, template_folder="templates")


@bp.app_context_processor
def _enrolment_labels():
    """Every page: enrolment statuses and history events in the reader's language."""
    return {
        "status_label": lambda status: str(enrolments.STATUS_LABELS.get(status, status)),
        "event_label": lambda kind: str(enrolments.EVENT_LABELS.get(kind, kind)),
    }

@bp.app_context_processor
def _diary_helpers():
    """Every page that shows a diary (the patient's, the summary, the clinician's): numbers and days."""
    return {
        "diary_value": lambda item, value: diaries.format_value(item, value),
        "diary_steps": lambda item: [item.min + n * item.step
                                     for n in range(int(round((item.max - item.min) / item.step)) + 1)],
        "diary_today": local_today,
        "diary_oldest": lambda: local_today() - timedelta(days=diaries.OLDEST_DAYS),
        "diary_short_day": lambda day: format_date(day, "d MMM"),
        "diary_size": SimpleNamespace(width=diaries.WIDTH, height=diaries.HEIGHT, left=diaries.LEFT,
                                      right=diaries.RIGHT),
    }


DIARY_MESSAGES = {
    "bad_day": lambda item: _("Write the date as year-month-day, for example 2026-03-31."),
    "future_day": lambda item: _("The date is in the future. Choose today or an earlier day."),
    "old_day": lambda item: _("The date is more than a year ago. Choose a later day."),
    "not_number": lambda item: _("Write a number, for example %(example)s.",
                                 example=diaries.format_value(item, item.min + item.step)),
    "out_of_range": lambda item: _("%(label)s must be from %(min)s to %(max)s.", label=item.label,
                                   min=diaries.format_value(item, item.min), max=diaries.format_value(item, item.max)),
    "bad_step": lambda item: _("%(label)s goes in steps of %(step)s.", label=item.label,
                               step=diaries.format_value(item, item.step)),
    "bad_choice": lambda item: _("Choose yes or no."),
    "empty": lambda item: _("Fill in at least one value before you save."),
}

ANSWER_MESSAGES = {
    "too_long": lambda: _("Your answer is too long. Shorten it to at most %(n)s characters and save again.",
                          n=f"{services.ANSWER_MAX_LENGTH:,}".replace(",", "\u00a0")),
    "bad_value": lambda: _("Choose one of the options and save again."),
}


def _programme_or_404(enrolment):
    programme = get_catalogue().programmes.get(enrolment.programme_id)
    if programme is None:
        abort(404)
    return programme


@bp.route("/home")
@role_required("patient")
def home():
    """The patient's start page: each programme with its progress and next step first, then the rest.

    Until the patient has finished or skipped the introduction that an accepted
    invitation begins, it comes first.
    """
    if onboarding_pending(current_user):
        return redirect(url_for("account.onboarding_start"))
    catalogue = get_catalogue()
    cards = []
    rows = enrolments.enrolments_for_patient(current_user, with_schedule=True)
    conversations = conversations_for([e.id for e in rows])
    all_ids, open_ids = [e.id for e in rows], [e.id for e in rows if e.has_access]
    # Most patients have none of these: one statement says which there are, and only those are read.
    found = found_by({"questionnaires": questionnaire_services.waiting_query(open_ids),
                      "plans": plan_services.plans_query(all_ids),
                      "contacts": plan_services.upcoming_query(open_ids),
                      "groups": group_services.sessions_query(open_ids),
                      "information": library_services.shared_query(open_ids),
                      "replies": reply_services.latest_query(all_ids)})
    forms_waiting = questionnaire_services.waiting(open_ids) if "questionnaires" in found else {}
    plans = plan_services.plans_for(all_ids) if "plans" in found else {}
    contacts = plan_services.upcoming_for_patient(open_ids) if "contacts" in found else {}
    groups = group_services.sessions_for(open_ids) if "groups" in found else {}
    information = library_services.shared_for(open_ids) if "information" in found else {}
    replies = reply_services.latest_for(all_ids) if "replies" in found else {}
    shown = [(e, catalogue.programmes[e.programme_id]) for e in rows if e.programme_id in catalogue.programmes]
    schedules = services.schedules_for(shown)
    for enrolment, programme in shown:
        schedule = schedules[enrolment.id]
        done, total = services.progress_counts(schedule)
        cards.append({
            "enrolment": enrolment, "programme": programme, "done": done, "total": total,
            "continue": services.continue_point(schedule), "next": services.next_to_open(schedule),
            "conversation": conversations.get(enrolment.id),
            "questionnaires": forms_waiting.get(enrolment.id, []),
            "plan": plans.get(enrolment.id), "contacts": contacts.get(enrolment.id, []),
            "group": groups.get(enrolment.id), "reply": replies.get(enrolment.id),
            "information": library_services.sent_items(catalogue, information.get(enrolment.id, []),
                                                       current_user.locale),
        })
    changed = services.record_activity([e for e in rows if e.has_access])
    html = render_template("programme/home.html", cards=cards, render_markdown=render_markdown, forms=catalogue.forms)
    if changed:
        db.session.commit()
    return html


@bp.route("/e/<int:enrolment_id>/")
@role_required("patient")
def modules(enrolment_id: int):
    """The modules of one programme with their state: open, done, or opens on a date."""
    enrolment = enrolments.load_enrolment_for_patient(enrolment_id, current_user)
    programme = _programme_or_404(enrolment)
    schedule = services.schedule_for(enrolment, programme)
    done, total = services.progress_counts(schedule)
    return render_template("programme/modules.html", enrolment=enrolment, programme=programme,
                           schedule=schedule, done=done, total=total)


@bp.route("/e/<int:enrolment_id>/<module_id>/<int:page>")
@role_required("patient")
def module_page(enrolment_id: int, module_id: str, page: int):
    """One page of a module, with the patient's answers in place."""
    enrolment = enrolments.load_enrolment_for_patient(enrolment_id, current_user)
    programme = _programme_or_404(enrolment)
    # Whether the module is open needs no progress; the page view returns this module's.
    schedule = services.schedule_for(enrolment, programme, with_progress=False)
    scheduled = services.find_scheduled(schedule, module_id)
    version, is_fallback = scheduled.module.version(current_user.locale)
    if not 1 <= page <= len(version.pages):
        abort(404)
    services.record_page_view(enrolment, scheduled, page, session.get("reading"))
    session["reading"] = {"key": f"{enrolment.id}:{module_id}", "at": int(time.time())}
    services.record_activity([enrolment])
    restored = kept_drafts.take()
    response = _render_module_page(enrolment, programme, schedule, scheduled, version, is_fallback, page,
                                   drafts=_restored_answer(enrolment, restored),
                                   diary_state=_restored_diary(enrolment, restored))
    db.session.commit()  # after rendering, so the page reads nothing twice
    return response


def _restored_diary(enrolment, restored) -> dict | None:
    """A registration typed when the session had ended, given back once (core.drafts) as {diary id: state}."""
    prefix = url_for("programme.diary", enrolment_id=enrolment.id, diary_id="")
    if restored is None or not restored.action.startswith(prefix) or not restored.action.endswith("/entries"):
        return None
    diary_id = restored.action.removeprefix(prefix).removesuffix("/entries")
    return {diary_id: SimpleNamespace(typed={k: v[:50] for k, v in restored.fields.items()}, errors={})}


def _restored_answer(enrolment, restored) -> dict | None:
    """An answer typed when the session had ended (without JavaScript), given back once (core.drafts)."""
    prefix = url_for("programme.save_answer", enrolment_id=enrolment.id, block_id="")
    if restored is None or not restored.action.startswith(prefix):
        return None
    fields = restored.fields
    return {restored.action.removeprefix(prefix): {
        "text": fields.get("text", ""), "value": fields.get("value"), "checked": fields.getlist("checked"),
        "base_version": fields.get("base_version")}}


def _render_module_page(enrolment, programme, schedule, scheduled, version, is_fallback, page,
                        drafts=None, errors=None, conflicts=None, status=200, diary_state=None):
    services.progress_of(enrolment, scheduled)  # "done" or the button to mark it
    answers = services.shown_answers(enrolment, scheduled.module.id)
    # Diaries on this page only: other pages cost no query for them.
    page_diaries = [s for s in version.pages[page - 1].segments if s.kind == "diary"]
    diary_views = {}
    if page_diaries:
        rows = diaries.entries_for(enrolment, [s.id for s in page_diaries])
        diary_views = {s.id: diaries.view_of(scheduled.module, s, rows.get(s.id, []), diaries.RECENT_DAYS,
                                             lang=version.lang) for s in page_diaries}
    shown = dict(answers)
    conflicts = conflicts or {}
    # What the patient typed is shown again after an error or a conflict: nothing is lost.
    for block_id, draft in (drafts or {}).items():
        current = answers.get(block_id)
        shown[block_id] = services.ShownAnswer(
            text=draft["text"],
            value=int_or_none(draft["value"], 0, 10),
            checked={n for n in (int_or_none(v) for v in draft["checked"]) if n is not None},
            # After a conflict the next save is a deliberate choice: base it on what is stored now.
            version=(current.version if current else 0) if block_id in conflicts
            else int_or_none(draft.get("base_version", request.form.get("base_version"))) or 0,
        )
    summary = services.summary_for(enrolment, programme, current_user.locale) if version.kind == "summary" else None
    return render_template(
        "programme/module_page.html", enrolment=enrolment, programme=programme, scheduled=scheduled,
        version=version, is_fallback=is_fallback, page_number=page, page=version.pages[page - 1],
        answers=shown, errors=errors or {}, conflicts=conflicts,
        media=get_catalogue().media, summary=summary, diaries=diary_views, diary_state=diary_state or {},
        summary_diaries=diaries.views_for(enrolment, programme, current_user.locale) if summary is not None else [],
    ), status


@bp.route("/e/<int:enrolment_id>/<module_id>/done", methods=["POST"])
@role_required("patient")
def mark_done(enrolment_id: int, module_id: str):
    """Mark a module as done and go back to the list of modules."""
    enrolment = enrolments.load_enrolment_for_patient(enrolment_id, current_user)
    programme = _programme_or_404(enrolment)
    scheduled = services.find_scheduled(services.schedule_for(enrolment, programme), module_id)
    services.mark_done(enrolment, programme, scheduled)
    db.session.commit()
    version, _fallback = scheduled.module.version(current_user.locale)
    flash(_("Well done! You have finished “%(title)s”.", title=version.title), "success")
    return redirect(url_for("programme.modules", enrolment_id=enrolment.id))


@bp.route("/e/<int:enrolment_id>/answers/<block_id>", methods=["POST"])
@role_required("patient")
def save_answer(enrolment_id: int, block_id: str):
    """Save an answer: JSON for the autosave script, a normal form post without JavaScript."""
    enrolment = enrolments.load_enrolment_for_patient(enrolment_id, current_user)
    programme = _programme_or_404(enrolment)
    found = services.answer_block(programme, block_id)
    if found is None:
        abort(404)
    module, kind, items = found
    # Saving needs only whether the module is open; a page shown again reads the progress then.
    schedule = services.schedule_for(enrolment, programme, with_progress=False)
    scheduled = services.find_scheduled(schedule, module.id)
    wants_json = request.accept_mimetypes.best == "application/json"
    page = int_or_none(request.form.get("page"), 1) or 1
    base = int_or_none(request.form.get("base_version"))
    draft = {"text": request.form.get("text", ""), "value": request.form.get("value"),
             "checked": request.form.getlist("checked")}
    try:
        cleaned = services.clean_answer(kind, items, draft["text"], draft["value"], draft["checked"])
        answer = services.save_answer(enrolment, module, block_id, kind, cleaned, base)
    except services.AnswerError as exc:
        db.session.rollback()
        message = ANSWER_MESSAGES[exc.code]()
        if wants_json:
            return jsonify(status="invalid", message=message), 400
        version, is_fallback = module.version(current_user.locale)
        page = min(max(page, 1), len(version.pages))
        return _render_module_page(enrolment, programme, schedule, scheduled, version, is_fallback, page,
                                   drafts={block_id: draft}, errors={block_id: message}, status=400)
    except services.AnswerConflict as exc:
        db.session.commit()  # keep the conflicting text as a version of its own
        current = exc.answer
        if wants_json:
            return jsonify(status="conflict", version=current.version, text=current.text, value=current.value,
                           checked=sorted(current.checked), message=_("This answer was changed in another window. "
                                                                      "Both versions are kept.")), 409
        version, is_fallback = module.version(current_user.locale)
        page = min(max(page, 1), len(version.pages))
        return _render_module_page(enrolment, programme, schedule, scheduled, version, is_fallback, page,
                                   drafts={block_id: draft}, conflicts={block_id: current}, status=409)
    services.record_activity([enrolment])
    # Read before the commit expires the row: reading it after would cost a statement.
    saved_version, saved_at = answer.version, answer.updated_at
    db.session.commit()
    if wants_json:
        return jsonify(status="saved", version=saved_version, saved_at=saved_at.isoformat())
    flash(_("Your answer is saved."), "success")
    return redirect(url_for("programme.module_page", enrolment_id=enrolment.id, module_id=module.id, page=page)
                    + f"#q-{block_id}")


def _diary_or_404(enrolment, programme, block_id):
    """The diary's module and segment, if the diary is in a module open to the patient; else 404."""
    found = diaries.diary_block(programme, block_id, current_user.locale)
    if found is None:
        abort(404)
    module, segment = found
    schedule = services.schedule_for(enrolment, programme)
    scheduled = services.find_scheduled(schedule, module.id)
    return schedule, scheduled, segment


def _diary_page_of(version, block_id) -> int:
    """The page of the module the diary is on (1-based)."""
    return next((n for n, p in enumerate(version.pages, start=1) if any(s.id == block_id for s in p.segments)), 1)


@bp.route("/e/<int:enrolment_id>/diary/<diary_id>")
@role_required("patient")
def diary(enrolment_id: int, diary_id: str):
    """One diary: the form, a chart of every registration with the same numbers as a table, and each week."""
    enrolment = enrolments.load_enrolment_for_patient(enrolment_id, current_user)
    programme = _programme_or_404(enrolment)
    _schedule, scheduled, segment = _diary_or_404(enrolment, programme, diary_id)
    kept = _restored_diary(enrolment, kept_drafts.take()) or {}
    return _render_diary(enrolment, programme, scheduled, segment, state=kept.get(diary_id))


def _render_diary(enrolment, programme, scheduled, segment, state=None, status=200):
    version, _fallback = scheduled.module.version(current_user.locale)
    entries = diaries.entries_for(enrolment, [segment.id]).get(segment.id, [])
    return render_template(
        "programme/diary.html", enrolment=enrolment, programme=programme, scheduled=scheduled, version=version,
        segment=segment, view=diaries.view_of(scheduled.module, segment, entries, lang=version.lang), state=state,
        page_number=_diary_page_of(version, segment.id)), status


@bp.route("/e/<int:enrolment_id>/diary/<diary_id>/entries", methods=["POST"])
@role_required("patient")
def save_diary(enrolment_id: int, diary_id: str):
    """Save a day's registration; refused values come back in the form with a message at each field."""
    enrolment = enrolments.load_enrolment_for_patient(enrolment_id, current_user)
    programme = _programme_or_404(enrolment)
    schedule, scheduled, segment = _diary_or_404(enrolment, programme, diary_id)
    back_to_page = request.form.get("back") == "page"
    typed = {key: request.form.get(key, "")[:50] for key in ["day", *(f"v-{f.id}" for f in segment.fields)]}
    try:
        day = diaries.clean_day(request.form.get("day"))
        values = diaries.clean_values(segment.fields, request.form)
        entry = diaries.save_entry(enrolment, scheduled.module, diary_id, day, values)
    except diaries.DiaryError as exc:
        db.session.rollback()
        fields = {f.id: f for f in segment.fields}
        state = SimpleNamespace(typed=typed, errors={
            name: DIARY_MESSAGES[code](fields.get(name)) for name, code in exc.errors.items()})
        if back_to_page:
            version, is_fallback = scheduled.module.version(current_user.locale)
            page = _diary_page_of(version, diary_id)
            return _render_module_page(enrolment, programme, schedule, scheduled, version, is_fallback, page,
                                       diary_state={diary_id: state}, status=400)
        return _render_diary(enrolment, programme, scheduled, segment, state=state, status=400)
    services.record_activity([enrolment])
    db.session.commit()
    flash(_("Your registration for %(date)s is saved.", date=format_day(entry.day)), "success")
    if back_to_page:
        version, _fallback = scheduled.module.version(current_user.locale)
        return redirect(url_for("programme.module_page", enrolment_id=enrolment.id, module_id=scheduled.module.id,
                                page=_diary_page_of(version, diary_id)) + f"#diary-{diary_id}")
    return redirect(url_for("programme.diary", enrolment_id=enrolment.id, diary_id=diary_id))


@bp.route("/e/<int:enrolment_id>/summary")
@role_required("patient")
def summary(enrolment_id: int):
    """Everything the patient has written, ticked off and rated, ready to print."""
    enrolment = enrolments.load_enrolment_for_patient(enrolment_id, current_user, allow_closed=True)
    programme = _programme_or_404(enrolment)
    plan = plan_services.get_plan(enrolment)
    summary = services.summary_for(enrolment, programme, current_user.locale)
    # Which content release each answer was given in: the printout says what the patient was shown.
    releases = sorted({item.answer.content_release for _module, _version, items in summary for item in items
                       if item.answer.content_release})
    return render_template("programme/summary.html", enrolment=enrolment, programme=programme,
                           summary=summary, now=utcnow(), releases=releases,
                           content_release=get_catalogue().version_label,
                           diaries=diaries.views_for(enrolment, programme, current_user.locale),
                           plan=plan.current if plan else None,
                           plan_content=plan_services.content_of(plan.current) if plan and plan.current else None)
