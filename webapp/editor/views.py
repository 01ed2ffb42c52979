"""Editors' pages: edit a module file with its preview and problems, drafts, review, history, help."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from webapp.config import PROJECT_ROOT
from webapp.content.services import get_catalogue, swap_catalogue
from webapp.core.access import role_required
from webapp.core.markdown import render_markdown
from webapp.editor import services
from webapp.editor.forms import EditForm, MediaForm, NewModuleForm, ReviewForm
from webapp.editor.models import ContentDraft, ContentRevision
from webapp.extensions import db

bp = Blueprint("editor", __name__, template_folder="templates")

REFUSALS = {
    "own_draft": lambda: _("You wrote this draft: another editor has to approve it."),
    "changed": lambda: _("The live file has changed since this draft was written. Open the file, "
                         "copy your change into the new text and save it as a new draft."),
    "errors": lambda: _("The draft has errors; it cannot go live until they are fixed."),
    "release_refused": lambda: _("Another file in the content has errors, so nothing was released. "
                                 "The live content is unchanged."),
    "not_open": lambda: _("This draft has already been approved or withdrawn."),
    "cannot_revert": lambda: _("This change created the file; there is no earlier text to go back to."),
    "too_long": lambda: _("The text is too long."),
    "path": lambda: _("That is not a module file."),
    "media_name": lambda: _("Name it after its language and kind, e.g. sv.mp3, sv.vtt, en.mp4 or poster.png."),
    "media_empty": lambda: _("The file is empty."),
    "media_too_big": lambda: _("The file is too large. Sound can be up to 50 MB, films 200 MB, captions 1 MB "
                               "and pictures 5 MB."),
    "media_type": lambda: _("The file is not what its name says. Check that it is really the kind of file its "
                            "name ends with (for example an MP3 recording for sv.mp3)."),
    "media_exists": lambda: _("That file already exists. Choose another name: files that patients may already "
                              "see are not replaced."),
}


def _module_or_404(programme_id: str, module_id: str, lang: str, *, new: bool = False):
    programme = get_catalogue().programmes.get(programme_id)
    if programme is None or lang not in programme.languages:
        abort(404)
    module = programme.module(module_id)
    if module is None and not new:
        abort(404)
    return programme, module


def _draft_or_404(draft_id: int) -> ContentDraft:
    draft = db.session.get(ContentDraft, draft_id)
    if draft is None:
        abort(404)
    return draft


def _path(programme_id: str, module_id: str, lang: str) -> str:
    return f"{programme_id}/{module_id}/{lang}.md"


def _editor_page(form, programme, module_id, lang, path, *, checked=None, source_lang=None):
    problems, version = checked if checked is not None else services.check_draft(
        current_app, path, form.text.data or "")
    return render_template("editor/edit.html", form=form, programme=programme, module_id=module_id, lang=lang,
                           path=path, problems=problems, version=version, media=get_catalogue().media,
                           drafts=services.drafts_for(path), source_lang=source_lang,
                           is_new_file=services.live_text(current_app, path) is None)


@bp.route("/content/edit/<programme_id>/<module_id>/<lang>", methods=["GET", "POST"])
@role_required("editor")
def edit(programme_id: str, module_id: str, lang: str):
    """A module file in one language beside its preview and problems; saved as a draft for review."""
    programme, module = _module_or_404(programme_id, module_id, lang)
    path = _path(programme_id, module_id, lang)
    form = EditForm()
    source_lang = None
    if not form.is_submitted():
        own = next((d for d in services.drafts_for(path) if d.author_id == current_user.id), None)
        text = own.text if own else services.live_text(current_app, path)
        if text is None:
            # A new translation starts from the source language's text.
            source_lang = module.default_language
            source = services.live_text(current_app, _path(programme_id, module_id, source_lang)) or ""
            text = services.translation_text(source, module.versions[source_lang].version, lang)
        form.text.data = text
        form.message.data = own.message if own else ""
    elif form.validate() and form.wants_save:
        problems, version = services.check_draft(current_app, path, form.text.data)
        try:
            draft = services.save_draft(current_app, path, form.text.data, form.message.data, current_user)
        except services.EditorError as exc:
            flash(REFUSALS[exc.code](), "error")
            return _editor_page(form, programme, module_id, lang, path, checked=(problems, version))
        db.session.commit()
        flash(_("Draft saved. Another editor can now review and approve it."), "success")
        return redirect(url_for("editor.draft", draft_id=draft.id))
    return _editor_page(form, programme, module_id, lang, path, source_lang=source_lang)


@bp.route("/content/new/<programme_id>", methods=["GET", "POST"])
@role_required("editor")
def new_module(programme_id: str):
    """A new module from the template, in the programme's default language."""
    programme = get_catalogue().programmes.get(programme_id)
    if programme is None:
        abort(404)
    form = NewModuleForm()
    if form.validate_on_submit():
        if programme.module(form.module_id.data) or services.live_text(
                current_app, _path(programme_id, form.module_id.data, programme.default_language)) is not None:
            form.module_id.errors.append(_("A module with this id already exists."))
        else:
            lang = programme.default_language
            text = services.new_module_text(
                f"{form.module_id.data}-reflection", form.title.data, _("One sentence on what the module is about."),
                {"first_heading": _("Heading"), "first_text": _("Write the text of the first page here."),
                 "goal": _("Write the goal of the module here: what the patient knows or can do afterwards."),
                 "key_point": _("Write a key point here, one per line."),
                 "question_heading": _("A question"), "question": _("Write a question for the patient here.")})
            path = _path(programme_id, form.module_id.data, lang)
            services.save_draft(current_app, path, text, _("New module: %(title)s", title=form.title.data),
                                current_user)
            db.session.commit()
            return redirect(url_for("editor.edit_draft", draft_id=db.session.scalar(
                db.select(ContentDraft.id).where(ContentDraft.path == path, ContentDraft.status == "open",
                                                 ContentDraft.author_id == current_user.id))))
    return render_template("editor/new_module.html", form=form, programme=programme)


@bp.route("/content/drafts/<int:draft_id>/edit", methods=["GET", "POST"])
@role_required("editor")
def edit_draft(draft_id: int):
    """Go on writing a draft, also of a module that is not live yet."""
    draft = _draft_or_404(draft_id)
    match = services.PATH_RE.match(draft.path)
    if draft.status != "open" or draft.author_id != current_user.id:
        return redirect(url_for("editor.draft", draft_id=draft.id))
    programme, _module = _module_or_404(match["programme"], match["module"], match["lang"], new=True)
    form = EditForm()
    if not form.is_submitted():
        form.text.data, form.message.data = draft.text, draft.message
    elif form.validate() and form.wants_save:
        services.save_draft(current_app, draft.path, form.text.data, form.message.data, current_user)
        db.session.commit()
        flash(_("Draft saved. Another editor can now review and approve it."), "success")
        return redirect(url_for("editor.draft", draft_id=draft.id))
    return _editor_page(form, programme, match["module"], match["lang"], draft.path)


@bp.route("/content/drafts/")
@role_required("editor")
def drafts():
    """Drafts waiting for review, and the releases made lately."""
    return render_template("editor/drafts.html", drafts=services.open_drafts(),
                           releases=services.recent_releases())


@bp.route("/content/drafts/<int:draft_id>")
@role_required("editor")
def draft(draft_id: int):
    """A draft's changes against the live text, its problems, and approve or withdraw."""
    draft = _draft_or_404(draft_id)
    live = services.live_text(current_app, draft.path)
    problems, _version = services.check_draft(current_app, draft.path, draft.text)
    return render_template("editor/draft.html", draft=draft, diff=services.diff_lines(live, draft.text),
                           problems=problems, changed=services.sha(live) != draft.base_hash, form=ReviewForm(),
                           is_new_file=live is None,
                           match=services.PATH_RE.match(draft.path))


def _refused(exc: services.EditorError) -> None:
    flash(REFUSALS[exc.code](), "error")


@bp.route("/content/drafts/<int:draft_id>/approve", methods=["POST"])
@role_required("editor")
def approve(draft_id: int):
    """Write the draft into the content tree and release it (not by its own author)."""
    draft = _draft_or_404(draft_id)
    if not ReviewForm().validate_on_submit():
        abort(400)
    try:
        release, catalogue = services.approve(current_app, draft, current_user)
    except services.EditorError as exc:
        db.session.rollback()
        _refused(exc)
        return redirect(url_for("editor.draft", draft_id=draft_id))
    db.session.commit()
    swap_catalogue(current_app, catalogue)  # this worker at once; the others within seconds
    flash(_("Approved: release %(release)s is live.", release=release.label), "success")
    return redirect(url_for("editor.draft", draft_id=draft_id))


@bp.route("/content/drafts/<int:draft_id>/withdraw", methods=["POST"])
@role_required("editor")
def withdraw(draft_id: int):
    """Drop a draft without changing the content."""
    draft = _draft_or_404(draft_id)
    if not ReviewForm().validate_on_submit():
        abort(400)
    try:
        services.withdraw(draft, current_user)
    except services.EditorError as exc:
        _refused(exc)
        return redirect(url_for("editor.draft", draft_id=draft_id))
    db.session.commit()
    flash(_("The draft was withdrawn."), "success")
    return redirect(url_for("editor.drafts"))


@bp.route("/content/history/<programme_id>/<module_id>/<lang>")
@role_required("editor")
def history(programme_id: str, module_id: str, lang: str):
    """Every approved change of one file: who, when, why, the diff, and a way back."""
    programme, _module = _module_or_404(programme_id, module_id, lang, new=True)
    path = _path(programme_id, module_id, lang)
    revisions = services.history(path)
    if not revisions and services.live_text(current_app, path) is None:
        abort(404)
    return render_template("editor/history.html", programme=programme, path=path, module_id=module_id, lang=lang,
                           revisions=[(r, services.diff_lines(r.old_text, r.new_text)) for r in revisions],
                           form=ReviewForm())


@bp.route("/content/revisions/<int:revision_id>/revert", methods=["POST"])
@role_required("editor")
def revert(revision_id: int):
    """A draft with the text from before this change, for another editor to approve."""
    revision = db.session.get(ContentRevision, revision_id)
    if revision is None:
        abort(404)
    if not ReviewForm().validate_on_submit():
        abort(400)
    try:
        draft = services.revert(current_app, revision, current_user)
    except services.EditorError as exc:
        _refused(exc)
        match = services.PATH_RE.match(revision.path)
        if match is None:
            return redirect(url_for("editor.drafts"))
        return redirect(url_for("editor.history", programme_id=match["programme"], module_id=match["module"],
                                lang=match["lang"]))
    db.session.commit()
    flash(_("A draft that goes back to the earlier text is saved; another editor approves it."), "success")
    return redirect(url_for("editor.draft", draft_id=draft.id))


@bp.route("/content/help")
@role_required("editor", "admin")
def help_page():
    """How to write a module: the authoring guide, inside the app."""
    guide = Path(PROJECT_ROOT / "docs" / "authoring.md")
    html = render_markdown(guide.read_text(encoding="utf-8")) if guide.is_file() else Markup("")
    return render_template("editor/help.html", guide=html)


@bp.route("/content/media/upload", methods=["GET", "POST"])
@role_required("editor")
def upload_media():
    """Upload a sound, film, captions file or picture; its bytes must be what its name says."""
    # Larger than the site's form limit: films. Each kind has its own limit in the service.
    request.max_content_length = max(services.MEDIA_LIMITS.values()) + 64 * 1024
    form = MediaForm()
    if form.validate_on_submit():
        upload = form.file.data
        upload.stream.seek(0, 2)
        size = upload.stream.tell()
        upload.stream.seek(0)
        try:
            services.store_media(current_app, form.media_id.data, form.name.data, upload.stream, size)
        except services.EditorError as exc:
            form.file.errors.append(REFUSALS[exc.code]())
        else:
            flash(_("The file is saved as media/%(path)s. Name it in media.yaml and refer to the media id in a "
                    "module; it is shown to patients with the next release.",
                    path=f"{form.media_id.data}/{form.name.data}"), "success")
            return redirect(url_for("editor.upload_media"))
    return render_template("editor/upload.html", form=form)
