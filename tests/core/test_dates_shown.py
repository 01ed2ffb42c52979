"""Days and times reach patients in one local style: never with seconds, never as ISO timestamps.

A seeded journey (a programme in progress, messages both ways, a plan, a planned
contact and a group session at whole-and-odd seconds, a questionnaire) is shown
through every patient page with the test client, in Swedish and in Arabic, and
the text of each page is scanned.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta

import pytest

from tests.fixtures.plugin import Auth

# Any digits (Western, Arabic-Indic, Persian): hh:mm:ss, or an ISO timestamp/day.
D = r"[0-9\u0660-\u0669\u06f0-\u06f9]"
SECONDS = re.compile(rf"(?<!{D}){D}{{1,2}}:{D}{{2}}:{D}{{2}}(?!{D})")
ISO = re.compile(rf"{D}{{4}}-{D}{{2}}-{D}{{2}}(?:[T ]{D}{{2}}:{D}{{2}})?")
TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S)

PAGES = ["/home", "/e/{e}/", "/e/{e}/pain-physiology/1", "/e/{e}/pain-physiology/2", "/e/{e}/messages",
         "/e/{e}/summary", "/e/{e}/plan", "/e/{e}/questionnaires/{dispatch}", "/auth/account",
         "/account/notifications", "/account/contact", "/account/my-data", "/welcome/about", "/welcome/phone",
         "/welcome/notifications", "/welcome/language"]


@pytest.fixture
def journey(app, make, db):
    from webapp.careplan.services import schedule_contact, share
    from webapp.content.services import get_catalogue
    from webapp.core.db import utcnow
    from webapp.groups.services import create_group
    from webapp.messages.services import post_as_patient, post_as_staff
    from webapp.notifications.models import NotificationConsent
    from webapp.questionnaires.models import Dispatch
    from webapp.questionnaires.services import send_round

    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", name="Tolvan Tolvansson", phone="+46701740605")
    enrolment = make.enrolment(patient, unit, clinician, programme="pain-school", welcome_text="Välkommen!")
    # Odd seconds, so a format that shows them cannot hide behind ":00".
    odd = (utcnow() + timedelta(days=2)).replace(second=37, microsecond=123456)
    with app.test_request_context():
        post_as_patient(enrolment, patient, "Hej!")
        post_as_staff(enrolment, clinician, "Hej Tolvan!")
    send_round(get_catalogue().forms["phq-9"], unit.id, clinician, [enrolment], due_at=odd)
    share(enrolment, {"goals": [{"matters": "Familjen", "able_to": "Gå till parken"}], "activities": [],
                      "review_on": (odd + timedelta(days=60)).date().isoformat()}, clinician)
    schedule_contact(enrolment, clinician, "phone", odd, "Hur går det?")
    create_group(unit, get_catalogue().programmes["pain-school"], "Tisdagar", date.today() + timedelta(days=7),
                 time(13, 0, 41), 2, 8, clinician)
    db.session.add(NotificationConsent(user_id=patient.id, kind="new_message", channel="email", is_enabled=True,
                                       consented_at=odd))
    db.session.commit()
    dispatch = db.session.query(Dispatch.id).filter_by(enrolment_id=enrolment.id).scalar()
    return {"patient": patient, "e": enrolment.id, "dispatch": dispatch}


@pytest.mark.parametrize("locale", ["sv", "ar"])
def test_no_patient_page_shows_seconds_or_iso_timestamps(app, db, journey, locale):
    client = app.test_client()
    auth = Auth(client, db)
    auth.login(journey["patient"])
    auth.post("/language", {"locale": locale, "next": "/home"})
    client.get("/e/{e}/pain-physiology/1".format(**journey))  # progress, so the summary has dates
    found = []
    for template in PAGES:
        path = template.format(**journey)
        response = client.get(path)
        assert response.status_code == 200, path
        text = TAGS.sub(" ", response.get_data(as_text=True))
        found += [f"{path}: {text[max(0, m.start() - 80):m.end() + 20]!r}" for pattern in (SECONDS, ISO) for m in pattern.finditer(text)]
    assert found == [], "\n".join(found)


def test_the_one_style(app):
    from datetime import datetime, timezone

    from flask_babel import force_locale

    from webapp.core.dates import format_clock, format_day, format_moment

    summer = datetime(2026, 6, 3, 12, 0, 59, 999, tzinfo=timezone.utc)  # 14:00 in Stockholm
    with app.test_request_context(), force_locale("sv"):
        assert format_day(summer) == "3 juni 2026"
        assert format_clock(summer) == "14:00"
        assert format_moment(summer) == "3 juni 2026 14:00"
        assert format_moment(summer.isoformat()) == "3 juni 2026 14:00"
        assert format_day("2026-12-24") == "24 december 2026"
        assert format_day(None) == "" and format_moment("") == ""
