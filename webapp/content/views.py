"""Content editors' pages (catalogue, coverage, preview) and media files."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template, request, send_file
from flask_login import current_user, login_required

from webapp.content.services import MEDIA_TYPES, Media, get_catalogue
from webapp.core.access import role_required
from webapp.core.languages import choose
from webapp.editor.services import live_release, open_drafts
from webapp.programme.enrolments import patient_may_see_programmes
from webapp.questionnaires.forms import answer_form
from webapp.questionnaires.scoring import score

bp = Blueprint("content", __name__, template_folder="templates")


@bp.route("/content/")
@role_required("editor", "admin")
def index():
    """Every programme with its module × language coverage, all content problems and the live release."""
    # Coverage is against every interface language, not only those a programme lists:
    # a programme without Arabic must show that Arabic is missing.
    return render_template("content/index.html", catalogue=get_catalogue(), release=live_release(),
                           open_drafts=len(open_drafts()), interface_languages=current_app.config["LANGUAGES"])


@bp.route("/content/preview/<programme_id>/<lang>/<module_id>/<int:page>")
@role_required("editor", "admin")
def preview(programme_id: str, lang: str, module_id: str, page: int):
    """A module page exactly as a patient reading ``lang`` would see it, with its problems."""
    catalogue = get_catalogue()
    programme = catalogue.programmes.get(programme_id)
    module = programme.module(module_id) if programme else None
    if module is None or lang not in programme.languages:
        abort(404)
    version, is_fallback = (module.versions[lang], False) if lang in module.versions else module.version(lang)
    if not 1 <= page <= len(version.pages):
        abort(404)
    return render_template(
        "content/preview.html", programme=programme, module=module, version=version, lang=lang,
        page_number=page, page=version.pages[page - 1], is_fallback=is_fallback,
        problems=[p for p in catalogue.problems if p.path == version.path],
        media=catalogue.media,
    )


def _may_see(user, media: Media) -> bool:
    """Staff who work with content or patients; patients only for their open programmes."""
    if user.role in ("editor", "admin", "clinician"):
        return True
    return patient_may_see_programmes(user, media.programmes)


@bp.route("/media/<media_id>/<filename>")
@login_required
def media_file(media_id: str, filename: str):
    """A media file, with Range support, to those allowed to see the programme it is in."""
    media = get_catalogue().media.get(media_id)
    # Only names listed in media.yaml are served: no path can reach outside media/.
    if media is None or filename not in media.servable or not _may_see(current_user, media):
        abort(404)
    path = media.folder / filename
    mimetype = MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    prefix = current_app.config["MEDIA_X_ACCEL_PREFIX"]
    if prefix:
        # nginx serves the bytes (and Range) from an internal location after our check.
        response = Response(status=200, mimetype=mimetype)
        response.headers["X-Accel-Redirect"] = f"{prefix.rstrip('/')}/{media_id}/{filename}"
    else:
        response = send_file(path, mimetype=mimetype, conditional=True, etag=True)
    response.cache_control.private = True
    response.cache_control.max_age = 3600
    return response


# --- questionnaires: preview in every language, and a "try it" that stores nothing -----


def _questionnaire_or_404(form_id: str, lang: str):
    definition = get_catalogue().forms.get(form_id)
    if definition is None or lang not in current_app.config["LANGUAGES"]:
        abort(404)
    return definition


@bp.route("/content/questionnaires/")
@role_required("editor", "admin")
def questionnaires():
    """Every questionnaire, with which interface languages have a version of its wording."""
    return render_template("content/questionnaires.html", forms=get_catalogue().forms,
                           languages=current_app.config["LANGUAGES"])


@bp.route("/content/questionnaires/<form_id>/<lang>", methods=["GET", "POST"])
@role_required("editor", "admin")
def questionnaire_preview(form_id: str, lang: str):
    """A questionnaire as a reader of ``lang`` sees it, with its scoring rules, bands and safety rule.

    Posting it ("try it") scores the answers as a patient's would be scored and
    shows the result; nothing is stored, nobody is alerted.
    """
    definition = _questionnaire_or_404(form_id, lang)
    reading = definition.reading(lang)
    form_class = answer_form(definition, reading.lang)
    form, result = form_class(), None
    if request.method == "POST":
        # Every answer counts as sent ("submit"): required items are checked as for a patient.
        form.action.data = "submit"
        if form.validate_on_submit():
            result = score(definition, form.answers())
    status = 400 if form.errors else 200
    return render_template("content/questionnaire.html", questionnaire=definition, reading=reading, lang=lang,
                           locale=reading.lang, form=form, result=result,
                           languages=current_app.config["LANGUAGES"], choose=choose), status
