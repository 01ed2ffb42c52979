"""A page view's commit does not wait for the disk; nothing else's does (issue 25).

``core.db.asynchronous_commit_column`` lets a transaction that wrote only a
page view commit with synchronous_commit off. Each test reads the setting on
the connection just before its COMMIT, so a write that slipped into such a
transaction, or a setting left over for the next one, fails here.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, update

from tests.performance.test_hot_25p import patient_world  # noqa: F401  (fixture)
from webapp.core.db import utcnow
from webapp.programme.models import Enrolment

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def commits(db):
    """synchronous_commit as each COMMIT found it, in order."""
    seen: list[str] = []

    def before_commit(conn):
        seen.append(conn.exec_driver_sql("SHOW synchronous_commit").scalar())

    event.listen(db.engine, "commit", before_commit)
    yield seen
    event.remove(db.engine, "commit", before_commit)


def _page_view(app, world, page: int = 1):
    from webapp.content.services import get_catalogue
    from webapp.programme import services
    from webapp.programme.enrolments import load_enrolment_for_patient  # noqa: F401  (registers the companion)

    programme = get_catalogue().programmes[world["enrolment"].programme_id]
    scheduled = services.find_scheduled(services.schedule_for(world["enrolment"], programme, with_progress=False),
                                        world["module"])
    return services.record_page_view(world["enrolment"], scheduled, page, None)


def test_a_module_page_commits_its_page_view_without_waiting(patient_world, client, commits):  # noqa: F811
    w = patient_world
    url = f"/e/{w['enrolment'].id}/{w['module']}/{w['page']}"
    assert client.get(url).status_code == 200
    commits.clear()
    assert client.get(url).status_code == 200
    assert commits[-1] == "off"


def test_another_write_in_the_same_transaction_waits_again(patient_world, app, db, commits):  # noqa: F811
    with app.test_request_context():
        _page_view(app, patient_world)
        patient_world["enrolment"].last_active_at = utcnow() - timedelta(days=1)  # an ORM update, flushed at commit
        db.session.commit()
        _page_view(app, patient_world, 2)
        db.session.execute(update(Enrolment).where(Enrolment.id == patient_world["enrolment"].id)
                           .values(welcome_text="Välkommen"))  # a Core update
        db.session.commit()
    assert commits == ["on", "on"]


def test_a_write_before_the_page_view_keeps_its_transaction_waiting(patient_world, app, db, commits):  # noqa: F811
    with app.test_request_context():
        db.session.execute(update(Enrolment).where(Enrolment.id == patient_world["enrolment"].id)
                           .values(welcome_text="Välkommen"))
        _page_view(app, patient_world)
        db.session.commit()
        # The mark of that write ended with its transaction: the next page view alone does not wait.
        _page_view(app, patient_world, 2)
        db.session.commit()
    assert commits == ["on", "off"]


def test_the_next_transaction_waits_again(patient_world, app, db, commits):  # noqa: F811
    with app.test_request_context():
        _page_view(app, patient_world)
        db.session.commit()
        patient_world["enrolment"].welcome_text = "Hej"
        db.session.commit()
        _page_view(app, patient_world, 2)
        db.session.rollback()
        patient_world["enrolment"].welcome_text = "Hej igen"
        db.session.commit()
    assert commits == ["off", "on", "on"]
    db.session.expire_all()
    assert db.session.get(Enrolment, patient_world["enrolment"].id).welcome_text == "Hej igen"
