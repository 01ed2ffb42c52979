"""The clinician workspace: opening access, the caseload, the enrolment page,
lifecycle changes, care-unit boundaries and the access log."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests.fixtures.plugin import Auth
from webapp.auth.models import Membership, User
from webapp.core.audit import AccessLogEntry
from webapp.notifications.models import OutboxItem
from webapp.programme.models import Enrolment, EnrolmentEvent, ScheduleEntry

VALID_PNR = "19811218-9876"


@pytest.fixture
def unit(make):
    return make.unit(name="Vårdcentralen Ekbacken")


@pytest.fixture
def clinician(make, unit, auth):
    user = make.user("clinician", units=[unit], name="Elsa Exempel")
    auth.login(user)
    return user


def _start(auth, pnr=VALID_PNR, programme="pain-school"):
    return auth.post("/clinician/open", {"step": "1", "personal_number": pnr, "programme": programme}, "/clinician/open")


def _details(auth, clinician, **fields):
    data = {"step": "2", "personal_number": "198112189876", "programme": "pain-school", "full_name": "Kim Exempelsson",
            "email": "kim@lotsa.example", "phone": "070-174 06 05", "locale": "sv", "responsible": str(clinician.id),
            "recommended_days": "365", "welcome_text": "Välkommen, Kim!", "skipped": ["family"]}
    data.update(fields)
    return auth.post("/clinician/open", data, "/clinician/open")


def log_count(db, **where) -> int:
    query = select(func.count()).select_from(AccessLogEntry)
    for key, value in where.items():
        query = query.where(getattr(AccessLogEntry, key) == value)
    return db.session.scalar(query)


def test_open_access_for_a_new_patient(client, auth, clinician, db):
    step2 = _start(auth)
    html = step2.get_data(as_text=True)
    assert step2.status_code == 200
    assert "Välkommen till den digitala smärtskolan!" in html  # the programme's default welcome text
    response = _details(auth, clinician)
    assert response.status_code == 302
    patient = db.session.scalars(select(User).where(User.personal_number == "198112189876")).one()
    assert (patient.full_name, patient.phone, patient.has_password) == ("Kim Exempelsson", "+46701740605", False)
    enrolment = db.session.scalars(select(Enrolment)).one()
    assert (enrolment.status, enrolment.welcome_text, enrolment.responsible_clinician_id) == \
        ("invited", "Välkommen, Kim!", clinician.id)
    skipped = db.session.scalars(select(ScheduleEntry)).one()
    assert (skipped.module_id, skipped.is_skipped) == ("family", True)
    kinds = sorted((o.kind, o.channel) for o in db.session.scalars(select(OutboxItem)))
    assert kinds == [("invitation", "email"), ("invitation", "sms")]
    page = client.get(response.location).get_data(as_text=True)
    assert "Kim Exempelsson" in page
    assert "utelämnad" in client.get(f"{response.location}/schedule").get_data(as_text=True)


@pytest.mark.parametrize(
    "pnr, message",
    [
        ("19811218-9877", "Den sista siffran stämmer inte"),
        ("19811318-9876", "Datumet i personnumret finns inte"),
        ("19811218987", "Skriv personnumret med 12 siffror"),
        ("19811218-98765", "Skriv personnumret med 12 siffror"),
    ],
)
def test_bad_personal_numbers_are_refused_with_the_form_kept(auth, clinician, pnr, message):
    response = _start(auth, pnr)
    html = response.get_data(as_text=True)
    assert message in html
    assert f'value="{pnr}"' in html


def test_details_errors_keep_everything_typed(auth, clinician, db):
    response = _details(auth, clinician, email="not-an-address", phone="12", full_name="Kim <script>x</script>")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Skriv en e-postadress" in html and "mobilnummer" in html
    assert 'value="Kim &lt;script&gt;x&lt;/script&gt;"' in html
    assert "Välkommen, Kim!" in html
    assert db.session.scalars(select(User).where(User.role == "patient")).all() == []


def test_existing_patient_gets_a_new_enrolment_without_a_new_account(auth, clinician, make, db, unit):
    patient = make.user("patient", personal_number="198112189876", name="Kim Exempelsson")
    make.enrolment(patient, unit, clinician, programme="act-long-term-pain")
    step2 = _start(auth).get_data(as_text=True)
    assert "Kim Exempelsson" in step2
    assert log_count(db, action="patient.lookup", patient_id=patient.id) == 1
    response = _details(auth, clinician, full_name="", email="")
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(User).where(User.role == "patient")) == 1
    new = db.session.scalars(select(Enrolment).where(Enrolment.programme_id == "pain-school")).one()
    assert new.status == "active" and new.started_at is not None
    # Told once about the programme, once about the start questionnaires (two, coalesced).
    assert sorted(o.kind for o in db.session.scalars(select(OutboxItem))) == ["programme_opened", "questionnaire_waiting"]
    again = _details(auth, clinician, full_name="", email="")
    assert again.status_code == 400
    assert "redan öppen tillgång" in again.get_data(as_text=True)


def test_accepting_the_invitation_starts_the_programme(app, auth, clinician, db):
    _details(auth, clinician)
    payload = db.session.scalars(select(OutboxItem.payload).where(OutboxItem.channel == "email")).one()
    path = re.search(r"http://localhost(/auth/invitation/[A-Za-z0-9_\-]+)", payload).group(1)
    patient_client = app.test_client()
    Auth(patient_client, db).post(path, {"password": "ett långt lösenord", "confirm": "ett långt lösenord"}, path)
    enrolment = db.session.scalars(select(Enrolment)).one()
    assert enrolment.status == "active" and enrolment.started_at is not None
    # The first visit starts with the short introduction; skipping it leads to the start page.
    assert patient_client.get("/home").headers["Location"].endswith("/welcome")
    assert Auth(patient_client, db).post("/welcome/done", {}, "/welcome/about").headers["Location"].endswith("/home")
    home = patient_client.get("/home").get_data(as_text=True)
    assert "Välkommen, Kim!" in home
    assert "0 av 9 moduler klara" in home  # one of ten left out


def test_caseload_search_filters_and_flags(client, clinician, make, unit, db):
    from datetime import timedelta

    from webapp.core.db import utcnow

    make.enrolment(make.user("patient", name="Alva Andersson", personal_number="191212121212"), unit, clinician)
    make.enrolment(make.user("patient", name="Bo Berg"), unit, None, started_at=utcnow() - timedelta(days=400),
                       last_active_at=utcnow())
    make.enrolment(make.user("patient", name="Cia Carlsson"), unit, clinician, status="closed")
    html = client.get("/clinician/").get_data(as_text=True)
    assert "Alva Andersson" in html and "Bo Berg" in html and "Cia Carlsson" not in html
    assert "19121212-1212" in html
    assert "Rekommenderad tid uppnådd" in html  # Bo has run 400 of 365 days
    assert "Inaktiv i 14+ dagar" in html  # Alva has never been active
    search = client.get("/clinician/?q=1212").get_data(as_text=True)
    assert "Alva Andersson" in search and "Bo Berg" not in search
    assert "Alva" not in client.get("/clinician/?scope=mine&q=Bo").get_data(as_text=True)
    mine = client.get("/clinician/?scope=mine").get_data(as_text=True)
    assert "Alva Andersson" in mine and "Bo Berg" not in mine
    flagged = client.get("/clinician/?flagged=1").get_data(as_text=True)
    assert "Bo Berg" in flagged and "Alva Andersson" in flagged
    assert "Cia Carlsson" in client.get("/clinician/?status=closed").get_data(as_text=True)


def test_caseload_runs_a_constant_number_of_queries(app, client, clinician, make, unit, count_queries, db):
    def add(n):
        for i in range(n):
            patient = make.user("patient", name=f"Patient {i}")
            make.enrolment(patient, unit, clinician)

    add(3)
    client.get("/clinician/")
    with count_queries() as small:
        client.get("/clinician/")
    add(57)
    with count_queries() as large:
        html = client.get("/clinician/").get_data(as_text=True)
    assert "60 inskrivningar" in html
    assert large.count == small.count, "\n".join(s[:70].replace("\n", " ") for s in large.statements)


def test_enrolment_page_shows_item_answers_of_the_newest_ten_questionnaires_unless_asked(
        client, clinician, make, unit, db):
    import json

    from webapp.core.db import utcnow
    from webapp.questionnaires.models import Dispatch, Submission

    enrolment = make.enrolment(make.user("patient"), unit, clinician)
    for week in range(12):
        at = utcnow() - timedelta(weeks=12 - week)
        dispatch = Dispatch(enrolment_id=enrolment.id, form_id="phq-9", send_at=at, created_at=at, answered_at=at)
        db.session.add(dispatch)
        db.session.flush()
        db.session.add(Submission(dispatch_id=dispatch.id, enrolment_id=enrolment.id, form_id="phq-9", total=week,
                                answers=json.dumps({f"q{i}": 0 for i in range(1, 10)}), submitted_at=at))
    db.session.commit()
    page = client.get(f"/clinician/enrolments/{enrolment.id}/outcomes").get_data(as_text=True)
    assert page.count("<summary>Svar</summary>") == 10
    assert f"/clinician/enrolments/{enrolment.id}/outcomes?answers=all#sent" in page
    everything = client.get(f"/clinician/enrolments/{enrolment.id}/outcomes?answers=all").get_data(as_text=True)
    assert everything.count("<summary>Svar</summary>") == 12
    assert "?answers=all#sent" not in everything


def test_each_staff_view_of_patient_data_is_logged_once(client, clinician, make, unit, db):
    enrolment = make.enrolment(make.user("patient"), unit, clinician)
    before = log_count(db)
    client.get(f"/clinician/enrolments/{enrolment.id}")
    assert log_count(db) == before + 1
    assert log_count(db, action="enrolment.view", patient_id=enrolment.patient_id, enrolment_id=enrolment.id) == 1
    client.get("/clinician/")
    assert log_count(db) == before + 2
    assert log_count(db, action="caseload.view") == 1


def test_lifecycle_close_reopen_extend_maintenance(app, client, auth, clinician, make, unit, db):
    patient = make.user("patient", phone="+46701740605")
    enrolment = make.enrolment(patient, unit, clinician, programme="pain-school")
    patient_client = app.test_client()
    Auth(patient_client, db).login(patient)
    base = f"/clinician/enrolments/{enrolment.id}"
    page = base

    # Closing needs both a reason and the confirmation.
    auth.post(f"{base}/close", {"reason": "Klar med programmet"}, page)
    assert db.session.get(Enrolment, enrolment.id).status == "active"
    auth.post(f"{base}/close", {"reason": "Klar med programmet", "confirm": "y"}, page)
    db.session.refresh(enrolment)
    assert (enrolment.status, enrolment.close_reason) == ("closed", "Klar med programmet")
    assert sorted(o.channel for o in db.session.scalars(select(OutboxItem).where(OutboxItem.kind == "access_closed"))) \
        == ["email", "sms"]
    assert patient_client.get(f"/e/{enrolment.id}/pain-physiology/1").status_code == 404
    assert patient_client.get(f"/e/{enrolment.id}/summary").status_code == 200

    auth.post(f"{base}/reopen", {}, page)
    db.session.refresh(enrolment)
    assert enrolment.status == "active"
    assert patient_client.get(f"/e/{enrolment.id}/pain-physiology/1").status_code == 200

    auth.post(f"{base}/extend", {"days": "90"}, page)
    assert db.session.get(Enrolment, enrolment.id).recommended_days == 455

    auth.post(f"{base}/maintenance", {}, page)
    db.session.refresh(enrolment)
    assert enrolment.status == "maintenance"
    # Module 2 would open next week; in the maintenance phase it never does.
    from webapp.content.services import get_catalogue
    from webapp.programme.services import schedule_for

    future = enrolment.maintenance_at.replace(year=enrolment.maintenance_at.year + 1)
    schedule = schedule_for(enrolment, get_catalogue().programmes["pain-school"], now=future)
    assert [s.is_open for s in schedule[:2]] == [True, False]
    kinds = [e.kind for e in db.session.scalars(select(EnrolmentEvent).order_by(EnrolmentEvent.id))]
    assert kinds == ["closed", "reopened", "extended", "maintenance"]


def _schedule_post(auth, base, changes: dict, opening: str = ""):
    """The schedule form as the browser sends it: every row, with ``changes`` per module id."""
    from webapp.content.services import get_catalogue

    data = {"opening": opening}
    for n, module in enumerate(get_catalogue().programmes["pain-school"].published_modules):
        row = {"module_id": module.id, "planned": "yes", "opens_on": "", **changes.get(module.id, {})}
        data.update({f"rows-{n}-{key}": value for key, value in row.items()})
    return auth.post(f"{base}/schedule", data, f"{base}/schedule")


def test_schedule_changes(app, client, auth, clinician, make, unit, db):
    """The whole schedule is one form: open now, leave out, take back, set a day, in one submit each."""
    patient = make.user("patient")
    enrolment = make.enrolment(patient, unit, clinician, programme="pain-school")
    patient_client = app.test_client()
    Auth(patient_client, db).login(patient)
    base = f"/clinician/enrolments/{enrolment.id}"
    page = client.get(f"{base}/schedule").get_data(as_text=True)
    # One form with one CSRF token for the table, not a form per row.
    assert page.count(f'action="{base}/schedule"') == 1 and 'name="action"' not in page
    assert 'name="rows-7-planned"' in page and 'name="rows-1-open_now"' in page
    assert patient_client.get(f"/e/{enrolment.id}/treatment/1").status_code == 404
    _schedule_post(auth, base, {"treatment": {"open_now": "y"}})
    assert patient_client.get(f"/e/{enrolment.id}/treatment/1").status_code == 200
    _schedule_post(auth, base, {"treatment": {"planned": "no"}, "family": {"planned": "no"}})
    assert patient_client.get(f"/e/{enrolment.id}/treatment/1").status_code == 404
    # A date far beyond the planning range (a typing error) is refused and changes nothing.
    refused = _schedule_post(auth, base, {"treatment": {"opens_on": "2099-01-01"}})
    assert refused.status_code == 400 and "2099-01-01" in refused.get_data(as_text=True)
    assert patient_client.get(f"/e/{enrolment.id}/treatment/1").status_code == 404
    later = (date.today() + timedelta(days=400)).isoformat()
    _schedule_post(auth, base, {"treatment": {"opens_on": later}, "family": {"planned": "no"}})
    assert patient_client.get(f"/e/{enrolment.id}/treatment/1").status_code == 404
    entries = {e.module_id: e for e in db.session.scalars(select(ScheduleEntry))}
    assert (entries["treatment"].is_skipped, entries["family"].is_skipped) == (False, True)
    assert entries["treatment"].opens_at.date() >= date.today() + timedelta(days=399)
    response = _schedule_post(auth, base, {"treatment": {"module_id": "no-such-module"}})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(ScheduleEntry)) == 2


def test_hand_over_to_a_colleague_keeps_the_history(app, client, auth, clinician, make, unit, db):
    colleague = make.user("clinician", units=[unit], name="Jonas Ek")
    enrolment = make.enrolment(make.user("patient"), unit, clinician)
    base = f"/clinician/enrolments/{enrolment.id}"
    auth.post(f"{base}/hand-over", {"clinician": str(colleague.id)}, base)
    db.session.refresh(enrolment)
    assert enrolment.responsible_clinician_id == colleague.id
    other = app.test_client()
    Auth(other, db).login(colleague)
    page = other.get(f"{base}/settings").get_data(as_text=True)
    assert "Elsa Exempel → Jonas Ek" in page


def test_welcome_text_edit_is_shown_to_the_patient_safely(app, client, auth, clinician, make, unit, db):
    patient = make.user("patient")
    enrolment = make.enrolment(patient, unit, clinician)
    base = f"/clinician/enrolments/{enrolment.id}"
    auth.post(f"{base}/welcome", {"welcome_text": "Hej! [klicka](javascript:alert(1)) <img src=x onerror=alert(1)>"}, base)
    patient_client = app.test_client()
    Auth(patient_client, db).login(patient)
    home = patient_client.get("/home").get_data(as_text=True)
    assert "Hej!" in home and 'href="javascript' not in home and "<img src=x" not in home


# Every clinician URL, for everyone who must not reach it.
CLINICIAN_GET = ["/clinician/", "/clinician/open", "/clinician/alerts", "/clinician/enrolments/{id}", "/clinician/enrolments/{id}/answers",
                 "/clinician/enrolments/{id}/schedule", "/clinician/enrolments/{id}/outcomes",
                 "/clinician/enrolments/{id}/care", "/clinician/enrolments/{id}/settings",
                 "/clinician/enrolments/{id}/reply"]
CLINICIAN_POST = ["/clinician/open", "/clinician/enrolments/{id}/close", "/clinician/enrolments/{id}/reopen",
                  "/clinician/enrolments/{id}/extend", "/clinician/enrolments/{id}/maintenance",
                  "/clinician/enrolments/{id}/hand-over", "/clinician/enrolments/{id}/welcome",
                  "/clinician/enrolments/{id}/schedule", "/clinician/enrolments/{id}/end-date",
                  "/clinician/enrolments/{id}/feedback", "/clinician/enrolments/{id}/reply"]


def test_every_clinician_url_is_covered_by_the_matrix(app):
    # One alert's page takes an alert id (tests/clinician/test_safety_alerts.py covers it), and
    # a saved reply its number (tests/replies).
    rules = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("clinician.")} - {
        "/clinician/alerts/<int:alert_id>", "/clinician/enrolments/<int:enrolment_id>/reply/<int:number>"}
    expected = {p.replace("{id}", "<int:enrolment_id>") for p in CLINICIAN_GET + CLINICIAN_POST}
    assert rules == expected


@pytest.mark.parametrize("who, get_status, post_status", [
    ("other_unit_clinician", {"/clinician/": 200, "/clinician/open": 200, "/clinician/alerts": 200, "enrolment": 404},
     404),
    ("editor", 403, 403),
    ("patient", 403, 403),
    ("anonymous", 302, 302),
])
def test_access_matrix(app, make, db, who, get_status, post_status):
    home_unit, other_unit = make.unit(), make.unit()
    owner = make.user("clinician", units=[home_unit])
    enrolment = make.enrolment(make.user("patient"), home_unit, owner)
    client = app.test_client()
    auth = Auth(client, db)
    if who == "other_unit_clinician":
        auth.login(make.user("clinician", units=[other_unit]))
    elif who != "anonymous":
        auth.login(make.user(who))
    for path in CLINICIAN_GET:
        url = path.format(id=enrolment.id)
        expected = get_status if isinstance(get_status, int) else get_status.get(path, get_status["enrolment"])
        assert client.get(url).status_code == expected, url
    for path in CLINICIAN_POST:
        url = path.format(id=enrolment.id)
        if path == "/clinician/open" and who == "other_unit_clinician":
            continue  # their own unit's form: allowed
        assert auth.post(url, {"reason": "x", "confirm": "y", "days": "5"}).status_code == post_status, url
    db.session.refresh(enrolment)
    assert enrolment.status == "active" and enrolment.recommended_days == 365


def test_hand_over_to_a_clinician_of_two_units_keeps_the_care_unit_in_the_care(app, client, auth, clinician, make,
                                                                                 unit, db):
    """The enrolment moves only to a unit both clinicians share; the colleague's other unit never sees it."""
    shared, elsewhere = make.unit(), make.unit()
    clinician.memberships.append(Membership(care_unit_id=shared.id))
    db.session.commit()
    colleague = make.user("clinician", units=[elsewhere, shared], name="Jonas Ek")
    stranger = make.user("clinician", units=[elsewhere])
    enrolment = make.enrolment(make.user("patient"), unit, clinician)
    base = f"/clinician/enrolments/{enrolment.id}"
    # The colleague does not work at the enrolment's unit, and shares exactly one unit with the clinician.
    auth.post(f"{base}/hand-over", {"clinician": str(colleague.id)}, base)
    db.session.refresh(enrolment)
    assert enrolment.responsible_clinician_id == colleague.id
    assert enrolment.care_unit_id == shared.id
    other = app.test_client()
    Auth(other, db).login(stranger)
    assert other.get(base).status_code == 404


def test_hand_over_asks_which_unit_when_several_are_shared(app, client, auth, clinician, make, unit, db):
    first, second = make.unit(), make.unit()
    clinician.memberships.extend([Membership(care_unit_id=first.id), Membership(care_unit_id=second.id)])
    db.session.commit()
    colleague = make.user("clinician", units=[first, second])
    enrolment = make.enrolment(make.user("patient"), unit, clinician)
    base = f"/clinician/enrolments/{enrolment.id}"
    page = auth.post(f"{base}/hand-over", {"clinician": str(colleague.id)}, base, follow_redirects=True)
    db.session.refresh(enrolment)
    assert enrolment.responsible_clinician_id == clinician.id and enrolment.care_unit_id == unit.id
    # Nothing changed, and the page offers the choice of unit.
    assert page.status_code == 200 and 'name="unit"' in page.get_data(as_text=True)
    auth.post(f"{base}/hand-over", {"clinician": str(colleague.id), "unit": str(second.id)}, base)
    db.session.refresh(enrolment)
    assert enrolment.responsible_clinician_id == colleague.id and enrolment.care_unit_id == second.id
