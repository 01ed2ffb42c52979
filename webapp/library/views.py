"""The patient information library: public pages, handouts, their media, and sending one to a patient.

The public pages need no login and set no cookie: they render with their own
base template (no CSRF token, no account menu, no language form), in the
language of the URL, and never read or write the session. The URL names the
language (``/info/<lang>/<programme>/<module>``), so a link can be shared and
always shows the same text.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user

from webapp.content.services import MEDIA_TYPES, get_catalogue
from webapp.core.access import role_required
from webapp.core.audit import log_access
from webapp.core.i18n import LANGUAGE_NAMES, text_direction
from webapp.core.urls import external_url
from webapp.extensions import db
from webapp.library import services
from webapp.library.forms import ShareInformationForm
from webapp.programme.enrolments import load_enrolment_for_clinician

bp = Blueprint("library", __name__, template_folder="templates")

# Names of the content languages in their own language (the interface may have fewer).
CONTENT_LANGUAGE_NAMES = {**LANGUAGE_NAMES, "fa": "فارسی"}


def _public(response):
    """No patient data here: a shared cache may keep the page a while, for visitors without cookies.

    A logged-in visitor's response may renew their session cookie, so it keeps
    the site's default (no-store) and never lands in a shared cache.
    """
    response.vary.add("Cookie")
    if not request.cookies:
        response.cache_control.public = True
        response.cache_control.max_age = 600
    return response


def _render(lang: str, template: str, **context):
    with force_locale(lang):
        html = render_template(template, lang=lang, lang_dir=text_direction(lang),
                               language_names=CONTENT_LANGUAGE_NAMES, **context)
    return _public(current_app.make_response(html))


def _module_or_404(programme_id: str, module_id: str, lang: str):
    found = services.public_module(get_catalogue(), programme_id, module_id)
    if found is None:
        abort(404)
    programme, module = found
    languages = services.languages_of(programme, module)
    if lang not in languages:
        abort(404)
    return programme, module, module.versions[lang], languages


@bp.errorhandler(404)
def not_found(_error):
    """An unknown library address: the library's own page, so it sets no cookie either."""
    lang = (request.view_args or {}).get("lang")
    lang = lang if lang in CONTENT_LANGUAGE_NAMES else current_app.config["BABEL_DEFAULT_LOCALE"]
    response = _render(lang, "library/not_found.html", switch=[])
    response.status_code = 404
    response.cache_control.max_age = 60
    return response


@bp.route("/info/")
def start():
    """The library in the visitor's browser language (a redirect, so every page has a stable address)."""
    languages = sorted({lang for p in services.public_programmes(get_catalogue()) for lang in p.languages})
    best = request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]
    return _public(redirect(url_for("library.index", lang=best)))


@bp.route("/info/<lang>/")
def index(lang: str):
    """Every public information page that exists in ``lang``."""
    programmes = []
    for programme in services.public_programmes(get_catalogue()):
        if lang not in programme.languages:
            continue
        modules = [(m, m.versions[lang]) for m in programme.published_modules
                   if lang in services.languages_of(programme, m)]
        if modules:
            programmes.append((programme, modules))
    if not programmes:
        abort(404)
    others = sorted({code for p, _m in programmes for code in p.languages} - {lang})
    switch = [(code, url_for("library.index", lang=code)) for code in [lang, *others]]
    return _render(lang, "library/index.html", programmes=programmes, switch=switch)


@bp.route("/info/<lang>/<info_id>/<topic_id>")
def page(lang: str, info_id: str, topic_id: str):
    """One information page, all of it on one screen, readable without logging in."""
    programme, module, version, languages = _module_or_404(info_id, topic_id, lang)
    switch = [(code, url_for("library.page", lang=code, info_id=programme.id, topic_id=module.id))
              for code in languages]
    return _render(lang, "library/page.html", programme=programme, module=module, version=version,
                   switch=switch, listen=_listen(version, lang, programme), media=get_catalogue().media)


@bp.route("/info/<lang>/<info_id>/<topic_id>/handout")
def handout(lang: str, info_id: str, topic_id: str):
    """The page as a printable handout, with a QR code that opens the public page."""
    import segno  # only this page draws a QR code

    programme, module, version, _languages = _module_or_404(info_id, topic_id, lang)
    address = external_url("library.page", lang=lang, info_id=programme.id, topic_id=module.id)
    # A PNG (data: URI, allowed by the CSP), not an inline SVG: a printed or saved PDF then holds
    # the code as one sharp image, which any PDF tool (and our test) can read back.
    qr = segno.make(address, error="m").png_data_uri(scale=8, border=4)
    return _render(lang, "library/handout.html", programme=programme, module=module, version=version,
                   address=address, qr=qr, media=get_catalogue().media)


def _listen(version, lang: str, programme):
    """(media, file) of the module's read-aloud recording, if the content names one."""
    media = get_catalogue().media.get(version.listen) if version.listen else None
    if media is None or media.kind != "audio":
        return None
    file, file_lang = media.for_language(lang, programme.default_language)
    return (media, file, file_lang) if file else None


@bp.route("/info/media/<media_id>/<filename>")
def media_file(media_id: str, filename: str):
    """A recording or picture used by public information: public as well, no login."""
    catalogue = get_catalogue()
    media = catalogue.media.get(media_id)
    public_ids = {p.id for p in services.public_programmes(catalogue)}
    if media is None or filename not in media.servable or not (media.programmes & public_ids):
        abort(404)
    path = media.folder / filename
    response = send_file(path, mimetype=MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"),
                         conditional=True, etag=True)
    return _public(response)


@bp.route("/clinician/enrolments/<int:enrolment_id>/information", methods=["POST"])
@role_required("clinician")
def share(enrolment_id: int):
    """Send a page of patient information to the patient (listed on their start page, notified)."""
    enrolment = load_enrolment_for_clinician(enrolment_id, current_user)
    log_access(current_user, "information.share", patient_id=enrolment.patient_id, enrolment_id=enrolment.id)
    catalogue = get_catalogue()
    form = ShareInformationForm()
    form.information.choices = services.information_choices(catalogue, current_user.locale)
    if not form.validate_on_submit():
        flash(_("Choose the information to send."), "error")
    else:
        try:
            services.share(catalogue, enrolment, form.information.data, current_user)
        except services.LibraryError as exc:
            flash(_("The patient's access is closed, so nothing was sent.") if exc.code == "closed"
                  else _("Choose the information to send."), "error")
        else:
            flash(_("The information was sent. The patient finds it on their start page."), "success")
    db.session.commit()
    return redirect(url_for("clinician.care", enrolment_id=enrolment.id) + "#information")
