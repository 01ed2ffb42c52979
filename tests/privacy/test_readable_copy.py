"""The readable "My data" page: every field in words, grouped, dates local; the JSON stays complete."""

from __future__ import annotations

import json
import re

from tests.fixtures.plugin import Auth


def _tables_read_by_the_export(app, db, patient) -> set[str]:
    """The tables whose rows ``collect`` reads, from the statements it sends."""
    from sqlalchemy import event

    from webapp.privacy.services import collect

    tables: set[str] = set()

    def seen(_conn, _cursor, statement, *_args):
        tables.update(name.strip('"') for name in re.findall(r'\b(?:FROM|JOIN)\s+("?\w+"?)', statement))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with app.test_request_context():
            collect(patient)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    return tables


def test_every_table_about_a_patient_is_exported_or_says_why_not(app, make, db):
    """Each table that refers to a user or an enrolment is read by the export, or NOT_EXPORTED gives the reason."""
    import webapp.models  # noqa: F401  (every model registered)
    from webapp.privacy.services import NOT_EXPORTED

    patient = make.user("patient")
    read = _tables_read_by_the_export(app, db, patient)
    about_people = {table.name for table in db.metadata.sorted_tables
                    if any(fk.column.table.name in ("user", "enrolment") for fk in table.foreign_keys)}
    assert sorted(about_people - read - NOT_EXPORTED.keys()) == []
    assert sorted(NOT_EXPORTED.keys() - about_people) == []  # no reason for a table that is gone
    assert sorted(NOT_EXPORTED.keys() & read) == []  # nor for one the export reads after all


def test_every_field_the_export_can_hold_has_words(app, make, db):
    from webapp.privacy import labels
    from webapp.privacy.services import SECRET_COLUMNS, TECHNICAL_COLUMNS

    # The access log has its own extract; a care plan is exported as its versions (care_plan_version).
    exported_tables = _tables_read_by_the_export(app, db, make.user("patient")) - {"access_log", "care_plan"}
    missing = sorted(f"{table}.{column.name}" for table in exported_tables
                     for column in db.metadata.tables[table].columns
                     if column.name not in SECRET_COLUMNS | TECHNICAL_COLUMNS and column.name not in labels.FIELDS)
    assert missing == []
    assert {"at", "who", "role", "action", "enrolment_id"} <= labels.FIELDS.keys()  # the access-log extract
    grouped = [name for _title, names in labels.GROUPS for name in names]
    assert sorted(grouped) == sorted(labels.SECTIONS) and len(grouped) == len(set(grouped))
    with app.test_request_context():
        from webapp.privacy.services import collect

        sections = set(collect(make.user("patient"))) - {"exported_at"}
    assert sorted(sections - labels.SECTIONS.keys()) == []


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
