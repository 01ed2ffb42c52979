"""Administration in the browser: care units and staff, each change a security event in words."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask_babel import force_locale
from sqlalchemy import select, update

from tests.fixtures.plugin import Auth
from webapp.admin.labels import ACTIONS
from webapp.auth.models import CareUnit, Membership, User, UserSession
from webapp.core.audit import AccessLogEntry
from webapp.core.db import utcnow


def _logged_in(app, db, user):
    client = app.test_client()
    auth = Auth(client, db)
    assert auth.login(user).status_code == 302
    return auth


def test_a_clinician_removed_from_a_unit_gets_404_on_its_enrolments_at_the_next_request(app, db, make):
    unit, other = make.unit(), make.unit()
    admin = make.user("admin")
    clinician = make.user("clinician", units=[unit, other])
    enrolment = make.enrolment(make.user("patient"), unit, clinician)
    kept = make.enrolment(make.user("patient"), other, clinician)
    elin = _logged_in(app, db, clinician)
    assert elin.client.get(f"/clinician/enrolments/{enrolment.id}").status_code == 200

    maja = _logged_in(app, db, admin)
    page = f"/admin/staff/{clinician.id}"
    response = maja.post(f"/admin/staff/{clinician.id}/units/{unit.id}/remove", token_url=page)
    assert response.status_code == 302
    assert db.session.scalar(select(Membership).where(Membership.user_id == clinician.id,
                                                      Membership.care_unit_id == unit.id)) is None
    # The session that was open: the removed unit's patient is gone, the other unit's is not.
    assert elin.client.get(f"/clinician/enrolments/{enrolment.id}").status_code == 404
    assert elin.client.get(f"/clinician/enrolments/{kept.id}").status_code == 200
    assert "1 öppen inskrivning" in maja.client.get(page).get_data(as_text=True)  # still responsible


def test_a_deactivated_account_loses_its_open_sessions_and_cannot_log_in(app, db, make):
    unit = make.unit()
    admin, clinician = make.user("admin"), make.user("clinician", units=[unit])
    first, second = _logged_in(app, db, clinician), _logged_in(app, db, clinician)
    maja = _logged_in(app, db, admin)
    maja.post(f"/admin/staff/{clinician.id}/deactivate", token_url=f"/admin/staff/{clinician.id}")
    db.session.refresh(clinician)
    assert clinician.is_active_account is False
    for auth in (first, second):
        assert "/auth/login" in auth.client.get("/clinician/").headers.get("Location", "")
    assert Auth(app.test_client(), db).login(clinician).status_code == 200  # the form again, no session
    # An administrator cannot close their own account (someone must be left to administer).
    maja.post(f"/admin/staff/{admin.id}/deactivate", token_url=f"/admin/staff/{admin.id}")
    db.session.refresh(admin)
    assert admin.is_active_account is True


def test_invitation_refused_with_a_field_message_keeps_what_was_typed(app, db, make):
    make.user("clinician", email="taken@region.example")
    maja = _logged_in(app, db, make.user("admin"))
    response = maja.post("/admin/staff/new", {"full_name": "Nya Personen", "email": "taken@region.example",
                                              "role": "clinician", "locale": "sv"}, "/admin/staff/new")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Det finns redan ett konto med den här e-postadressen." in html and 'value="Nya Personen"' in html


def test_every_admin_action_is_in_the_access_log_in_words(app, db, make):
    unit = make.unit()
    admin = make.user("admin", name="Maja Admin")
    target = make.user("clinician", units=[unit], name="Elin Behandlare", email="elin@region.example")
    maja = _logged_in(app, db, admin)

    def post(url, data=None, page="/admin/"):
        response = maja.post(url, data or {}, page)
        assert response.status_code == 302, (url, response.status_code)
        return response

    post("/admin/units/new", {"name": "Vårdcentralen Norra", "code": "vc-norra"}, "/admin/units/new")
    new_unit = db.session.scalar(select(CareUnit).where(CareUnit.code == "vc-norra"))
    post(f"/admin/units/{new_unit.id}", {"name": "VC Norra"}, f"/admin/units/{new_unit.id}")
    post("/admin/staff/new", {"full_name": "Ny Redaktör", "email": "ny@region.example", "role": "editor",
                              "locale": "en", "units": [str(unit.id)]}, "/admin/staff/new")
    page = f"/admin/staff/{target.id}"
    post(f"/admin/staff/{target.id}/units", {"unit": str(new_unit.id)}, page)
    post(f"/admin/staff/{target.id}/units/{unit.id}/remove", page=page)
    post(f"/admin/staff/{target.id}/hsa-id", {"hsa_id": "SE2321000016-1001"}, page)
    post(f"/admin/staff/{target.id}/hsa-id", {"hsa_id": ""}, page)
    post(f"/admin/staff/{target.id}/two-factor/reset", page=page)
    post(f"/admin/staff/{target.id}/role", {"role": "editor"}, page)
    post(f"/admin/units/{new_unit.id}/deactivate", page=f"/admin/units/{new_unit.id}")
    post(f"/admin/units/{new_unit.id}/deactivate", {"reactivate": "1"}, f"/admin/units/{new_unit.id}")
    post(f"/admin/staff/{target.id}/deactivate", page=page)

    kinds = ["unit_created", "unit_renamed", "staff_invited", "unit_added", "unit_removed", "hsa_id_set",
             "hsa_id_removed", "two_factor_reset", "role_changed", "unit_deactivated", "unit_reactivated",
             "account_deactivated"]
    entries = {e.action: e for e in db.session.scalars(select(AccessLogEntry).where(AccessLogEntry.actor_id == admin.id))}
    assert set(f"security.{k}" for k in kinds) <= set(entries), sorted(entries)

    html = maja.client.get("/admin/access-log").get_data(as_text=True)
    with app.test_request_context(), force_locale("sv"):
        words = {kind: str(ACTIONS[f"security.{kind}"]) for kind in kinds}
    for kind, label in words.items():
        assert label in html, kind
    assert "security." not in html  # no codes for the reader
    # Details in words: who was changed, which unit, which roles.
    assert "Elin Behandlare (elin@region.example)" in html and "Vårdenhet: VC Norra" in html
    assert "Roll före: Behandlare" in html and "Roll nu: Innehållsredaktör" in html

    # The staff filter finds what was done to an account as well as what it did.
    about = maja.client.get("/admin/access-log?staff=elin@region.example").get_data(as_text=True)
    assert words["unit_removed"] in about and words["unit_created"] not in about


def test_the_access_log_names_the_patient_by_personal_number_and_filters_by_it(app, db, make):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    tolvan = make.user("patient", personal_number="191212121212", name="Tolvan Tolvansson")
    other = make.user("patient", personal_number="198112189876")
    enrolment = make.enrolment(tolvan, unit, clinician)
    make.enrolment(other, unit, clinician)
    elin = _logged_in(app, db, clinician)
    assert elin.client.get(f"/clinician/enrolments/{enrolment.id}").status_code == 200
    maja = _logged_in(app, db, make.user("admin"))
    html = maja.client.get("/admin/access-log?patient=19121212-1212").get_data(as_text=True)
    assert "Öppnade en patients översikt" in html and "enrolment.view" not in html
    assert "19121212-1212" in html and f"Inskrivning {enrolment.id}: Digital smärtskola" in html
    assert "19811218-9876" not in html


def test_administration_asks_for_a_fresh_login(app, db, make):
    admin = make.user("admin")
    maja = _logged_in(app, db, admin)
    db.session.execute(update(UserSession).where(UserSession.user_id == admin.id)
                       .values(authenticated_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    for url in ("/admin/units/new", "/admin/staff/new", f"/admin/staff/{admin.id}"):
        response = maja.client.get(url)
        assert response.status_code == 302 and urlsplit(response.location).path == "/auth/reauthenticate", url
    # A change posted from an old login changes nothing.
    maja.post("/admin/units/new", {"name": "Enhet", "code": "enhet"}, "/accessibility")
    assert db.session.scalar(select(CareUnit).where(CareUnit.code == "enhet")) is None


def test_a_deactivated_unit_takes_no_new_patients_or_staff(app, db, make):
    unit = make.unit()
    clinician = make.user("clinician", units=[unit])
    maja = _logged_in(app, db, make.user("admin"))
    maja.post(f"/admin/units/{unit.id}/deactivate", token_url=f"/admin/units/{unit.id}")
    elin = _logged_in(app, db, clinician)
    assert elin.client.get("/clinician/open").status_code == 403
    newcomer = make.user("clinician")
    maja.post(f"/admin/staff/{newcomer.id}/units", {"unit": str(unit.id)}, f"/admin/staff/{newcomer.id}")
    assert db.session.scalar(select(Membership).where(Membership.user_id == newcomer.id)) is None


def test_patients_are_not_administered_here(app, db, make):
    patient = make.user("patient")
    maja = _logged_in(app, db, make.user("admin"))
    assert maja.client.get(f"/admin/staff/{patient.id}").status_code == 404
    assert db.session.get(User, patient.id).role == "patient"


ACTION_CALL = re.compile(r"""(?:log_access\([^,]+,|security_event\(|_admin_event\(|_open_section\([^,]+,)\s*f?["']([a-z_.]+)["']""")


def test_every_action_the_code_writes_has_words():
    """Each action string in the code has a label; a new one without words fails here."""
    root = Path(__file__).resolve().parents[2] / "webapp"
    found = set()
    for path in root.rglob("*.py"):
        for name in ACTION_CALL.findall(path.read_text(encoding="utf-8")):
            found.add(name if "." in name else f"security.{name}")
    found.discard("security.kind")  # the generic helpers' own parameter
    assert len(found) > 40
    assert sorted(found - set(ACTIONS)) == []


def test_every_list_detail_the_code_writes_is_read_in_words(app):
    """Each ``log_access(..., detail=f"...")`` is ``key=value`` pairs whose keys the log puts into words.

    Free text ("3 waiting") would reach an administrator reading Arabic in English;
    a key the readable log does not know would show as ``key=value``.
    """
    import ast

    from webapp.admin.services import _describe, _key_values

    root = Path(__file__).resolve().parents[2] / "webapp"
    problems, seen = [], 0
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "log_access"):
                continue
            for keyword in node.keywords:
                if keyword.arg != "detail":
                    continue
                if not isinstance(keyword.value, ast.JoinedStr):
                    continue  # a fixed text or a described value (login_description) is not a list's detail
                seen += 1
                where = f"{path.relative_to(root.parent)}:{node.lineno}"
                # Every formatted value stands for one digit: a count or an id.
                parts = keyword.value.values
                template = "".join(p.value if isinstance(p, ast.Constant) else "1" for p in parts)
                pairs = _key_values(template)
                if pairs is None:
                    problems.append(f"{where}: free text {template!r}")
                    continue
                with app.test_request_context():
                    unknown = [k for k, v in pairs.items() if _describe(k, v, {}, {}) == f"{k}={v}"]
                if unknown:
                    problems.append(f"{where}: no words for {unknown}")
    assert seen > 8
    assert problems == [], "\n".join(problems)
    with app.test_request_context():
        from flask_babel import force_locale

        with force_locale("sv"):
            words = [_describe(k, v, {}, {}) for k, v in _key_values("page=2 patients=50 search=Kim%20Ex%3D").items()]
    assert words == ["Sida 2", "50 patienter", "Sökte efter: Kim Ex="]
    with app.test_request_context():
        with force_locale("sv"):
            period = [_describe(k, v, {}, {}) for k, v in _key_values("from=2026-11-02 to=-").items()]
    assert period[0].startswith("Från 2 nov") and period[1] == ""
