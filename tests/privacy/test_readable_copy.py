"""The readable "My data" page: every field in words, grouped, dates local; the JSON stays complete."""

from __future__ import annotations

import json
import re

from tests.fixtures.plugin import Auth


def test_every_field_the_export_can_hold_has_words(app):
    import webapp.models  # noqa: F401  (every model registered)
    from webapp.extensions import db
    from webapp.privacy import labels
    from webapp.privacy.services import SECRET_COLUMNS

    exported_tables = {"user", "notification_consent", "user_session", "contact_change", "onboarding", "enrolment",
                       "enrolment_event", "schedule_entry", "module_progress", "answer", "answer_version", "diary_entry",
                       "diary_entry_version", "message",
                       "questionnaire_dispatch", "questionnaire_response", "care_plan_version", "follow_up_contact", "group_member",
                       "outbox_item"}
    missing = sorted(f"{table}.{column.name}" for table in exported_tables
                     for column in db.metadata.tables[table].columns
                     if column.name not in SECRET_COLUMNS and column.name not in labels.FIELDS)
    assert missing == []
    assert {"at", "who", "role", "action", "enrolment_id"} <= labels.FIELDS.keys()  # the access-log extract
    grouped = [name for _title, names in labels.GROUPS for name in names]
    assert sorted(grouped) == sorted(labels.SECTIONS) and len(grouped) == len(set(grouped))


def test_the_page_is_grouped_and_in_words_and_the_file_is_complete(app, make, db):
    from webapp.careplan.services import share
    from webapp.messages.services import post_as_patient

    unit = make.unit(name="Vårdcentralen Ekbacken")
    clinician = make.user("clinician", units=[unit], name="Elsa Exempel")
    patient = make.user("patient", name="Kim Exempelsson", personal_number="191212121212")
    enrolment = make.enrolment(patient, unit, clinician)
    with app.test_request_context():
        post_as_patient(enrolment, patient, "Ett meddelande")
    share(enrolment, {"goals": [{"matters": "Familjen", "able_to": "Gå till parken"}], "activities": [],
                      "review_on": "2027-03-01"}, clinician)
    db.session.commit()
    client = app.test_client()
    Auth(client, db).login(patient)
    page = client.get("/account/my-data").get_data(as_text=True)
    text = re.sub(r"<[^>]+>", " ", page)
    for raw in ("failed_login_count", "is_active_account", "personal_number", "created_at", "review_on", "able_to"):
        assert raw not in text, raw
    assert "1 mars 2027" in text and "Gå till parken" in text and "19121212-1212" in text
    assert re.search(r"\d{4}-\d{2}-\d{2}T", text) is None
    data = json.loads(client.get("/account/my-data.json").get_data(as_text=True))
    # The file keeps Lotsa's own names and exact timestamps, everything the page shows and more.
    assert data["account"]["failed_login_count"] == 0 and "T" in data["account"]["created_at"]
    assert {"account", "contact_changes", "onboarding", "enrolments", "answers", "messages", "questionnaires_sent",
            "care_plans", "access_log"} <= data.keys()
    assert json.loads(data["care_plans"][0]["content"])["review_on"] == "2027-03-01"
