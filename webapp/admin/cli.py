"""Demo data: ``flask --app webapp demo seed`` and ``flask --app webapp demo code``.

The demo uses invented names and the test personal identity numbers Skatteverket
publishes for testing, never numbers that could belong to someone.
"""

from __future__ import annotations

import json
from datetime import timedelta

import click
import pyotp
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from webapp.auth import services
from webapp.auth.models import User
from webapp.careplan import services as plans
from webapp.content.services import get_catalogue
from webapp.core.db import utcnow
from webapp.extensions import db
from webapp.messages.services import post_as_patient, post_as_staff, seed_unit_templates
from webapp.programme import services as journey
from webapp.programme.models import Enrolment
from webapp.questionnaires.models import Dispatch, Submission

# Bandit B105: the published demo password, refused in production.
DEMO_PASSWORD = "lotsa-demo-2026"  # nosec B105
DEMO_DOMAIN = "lotsa.example"

STAFF = [
    ("admin", "admin", "Maja Berg"),
    ("editor", "editor", "Olle Strand"),
    ("clinician", "elin", "Elin Nordqvist"),
    ("clinician", "jonas", "Jonas Ek"),
]
# (login, name, personal number, programme, status, days since start, days since active)
PATIENTS = [
    ("tolvan", "Tolvan Tolvansson", "191212121212", "pain-school", "active", 137, 9),
    ("kim", "Kim Exempelsson", "198112189876", "act-long-term-pain", "maintenance", 380, 2),
    ("alex", "Alex Provsson", "201701012393", "pain-school", "closed", 400, 40),
]

WELCOME = (
    "Välkommen till programmet! Arbeta i din egen takt, gärna en stund några gånger "
    "i veckan. Skriv till mig här i Lotsa om du har frågor.\n\nHälsningar, Elin"
)


def _guard_production() -> None:
    if current_app.config["LOTSA_ENV"] == "production":
        raise click.ClickException("demo commands are refused in production")


@click.group()
def demo() -> None:
    """Demo data for trying Lotsa locally."""


@demo.command("seed")
@click.option("--if-empty", is_flag=True, help="Do nothing if there are users already.")
@with_appcontext
def seed(if_empty: bool) -> None:
    """Create one care unit, four staff and three patients in different states."""
    _guard_production()
    if db.session.scalar(select(func.count()).select_from(User)):
        if if_empty:
            click.echo("Database already has users; demo not seeded.")
            print_logins()
            return
        raise click.ClickException("the database already has users; demo seed needs an empty database")
    unit = services.create_care_unit("vc-ekbacken", "Vårdcentralen Ekbacken")
    db.session.flush()
    seed_unit_templates(unit.id)  # the shipped message templates, for the unit to adapt
    staff = {}
    for role, login, name in STAFF:
        user = services.create_user(role=role, email=f"{login}@{DEMO_DOMAIN}", full_name=name,
                                    password=DEMO_PASSWORD, units=[unit] if role != "editor" else [])
        # Two-factor is already set up so the demo logins work at once; the
        # secret is printed below for an authenticator app, or use `demo code`.
        user.totp_secret = pyotp.random_base32()
        staff[login] = user
    now = utcnow()
    for login, name, pnr, programme, status, started_days, active_days in PATIENTS:
        patient = services.create_user(role="patient", email=f"{login}@{DEMO_DOMAIN}", full_name=name,
                                       password=DEMO_PASSWORD, personal_number=pnr, phone=None)
        # A local login has a second step for patients too: the demo's is an app code.
        patient.totp_secret = pyotp.random_base32()
        started = now - timedelta(days=started_days)
        db.session.add(Enrolment(
            patient=patient, programme_id=programme, care_unit=unit,
            responsible_clinician=staff["elin"], status=status, recommended_days=365,
            welcome_text=WELCOME, created_at=started, started_at=started,
            last_active_at=now - timedelta(days=active_days),
            closed_at=now - timedelta(days=30) if status == "closed" else None,
            close_reason="Programmet avslutat" if status == "closed" else None,
        ))
    db.session.flush()
    _demo_activity(staff["elin"])
    db.session.commit()
    click.echo("Demo data created.")
    print_logins()


def _demo_activity(clinician: User) -> None:
    """Some reading, answers and a short conversation, so every page has something to show."""
    tolvan = db.session.scalar(select(Enrolment).join(User, Enrolment.patient_id == User.id)
                               .where(User.email == f"tolvan@{DEMO_DOMAIN}"))
    programme = get_catalogue().programmes.get(tolvan.programme_id)
    if programme is None:
        return
    schedule = journey.schedule_for(tolvan, programme)
    for item in schedule[:3]:
        version = item.module.versions[programme.default_language]
        for page in range(1, len(version.pages) + 1):
            journey.record_page_view(tolvan, item, page, None)
        journey.mark_done(tolvan, programme, item)
    first = schedule[0].module
    answers = {
        "reflection": "Jag vill kunna gå till affären och umgås med barnbarnen utan att behöva vila hela dagen efter.",
        "task": "Korta promenader måndag, onsdag och fredag förmiddag.",
    }
    for kind, block_id, items in first.answer_ids():
        cleaned = journey.clean_answer(kind, items, answers.get(kind, ""), "4" if kind == "rating" else None,
                                       ["0"] if kind == "task" else [])
        journey.save_answer(tolvan, first, block_id, kind, cleaned, None)
    # A care plan Tolvan has agreed to, and a follow-up call planned for today.
    version = plans.share(tolvan, {
        "goals": [{"matters": "Att umgås med barnbarnen", "able_to": "Gå till lekparken och tillbaka"},
                  {"matters": "Att klara vardagen", "able_to": "Handla själv en gång i veckan"}],
        "activities": [{"what": "Promenad tio minuter", "who": "patient", "when": "varje dag"},
                       {"what": "Graderad träning", "who": "physiotherapist", "when": "tisdagar"}],
        "review_on": (utcnow() + timedelta(days=60)).date().isoformat()}, clinician)
    db.session.flush()
    plans.agree(tolvan, version, tolvan.patient)
    plans.schedule_contact(tolvan, clinician, "phone", utcnow().replace(hour=13, minute=0, second=0, microsecond=0),
                           "Hur går promenaderna?")
    with current_app.test_request_context():
        post_as_patient(tolvan, tolvan.patient, "Hej! Jag har svårt att komma igång med promenaderna när det "
                                                "regnar. Har du något tips?")
        post_as_staff(tolvan, clinician, "Hej Tolvan! Prova gärna att gå i trapphuset eller i en galleria. "
                                         "Det viktiga är att röra på sig lite, inte var.")
        post_as_patient(tolvan, tolvan.patient, "Tack, det ska jag prova!")
    # Later, answers in the second module: Tolvan now waits for feedback.
    second = schedule[1].module
    for kind, block_id, items in second.answer_ids():
        cleaned = journey.clean_answer(kind, items, "Jag har börjat med värme och rörelse i stället för vila.",
                                       "6" if kind == "rating" else None, ["0", "1"][:items] if kind == "task" else [])
        journey.save_answer(tolvan, second, block_id, kind, cleaned, None)
    # PHQ-9 before the start and in week 8: an outcome to follow (14 → 7, a reliable improvement).
    started_days = PATIENTS[0][5]
    for days_ago, total, band, purpose in ((started_days, 14, "Moderate", "before"),
                                           (started_days - 7 * 8, 7, "Mild", "manual")):
        at = utcnow() - timedelta(days=days_ago)
        dispatch = Dispatch(enrolment_id=tolvan.id, form_id="phq-9", sent_by_id=clinician.id, purpose=purpose,
                            created_at=at, send_at=at, answered_at=at, draft="{}", reminders_sent=0)
        db.session.add(dispatch)
        db.session.flush()
        # Item answers that add up to the total, with the last (safety) item at 0.
        answers = {f"q{n}": 0 for n in range(1, 10)}
        for step in range(total):
            answers[f"q{step % 8 + 1}"] += 1
        db.session.add(Submission(dispatch_id=dispatch.id, enrolment_id=tolvan.id, form_id="phq-9",
                                  answers=json.dumps(answers), total=float(total), band=band, submitted_at=at))


def print_logins() -> None:
    rows = db.session.scalars(select(User).where(User.email.like(f"%@{DEMO_DOMAIN}")).order_by(User.id))
    click.echo("")
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD})")
    for user in rows:
        line = f"  {user.role:<10} {user.email}"
        if user.totp_secret:
            line += f"   authenticator key: {user.totp_secret}"
        click.echo(line)
    click.echo("")
    click.echo("Everyone logs in with a six-digit code as a second step (patients may add")
    click.echo("a passkey on their account page). Add the key to an authenticator app, or")
    click.echo("print the current code with:")
    click.echo(f"  .venv/bin/flask --app webapp demo code elin@{DEMO_DOMAIN}")
    click.echo(f"  .venv/bin/flask --app webapp demo code {PATIENTS[0][0]}@{DEMO_DOMAIN}")
    click.echo("")


@demo.command("code")
@click.argument("email")
@with_appcontext
def code(email: str) -> None:
    """Print the current two-factor code of a demo account (staff or patient)."""
    _guard_production()
    user = services.get_user_by_email(email)
    if user is None or not user.email.endswith("@" + DEMO_DOMAIN) or not user.totp_secret:
        raise click.ClickException("only demo accounts have codes printed")
    click.echo(pyotp.TOTP(user.totp_secret).now())


@demo.command("logins")
@with_appcontext
def logins() -> None:
    """Print the demo logins again."""
    _guard_production()
    print_logins()
