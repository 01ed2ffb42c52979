"""A region's worth of data for the benchmarks, inserted in bulk.

``seed_region`` fills an empty, migrated database with care units, clinicians
(each with a password and a two-factor secret), patients with enrolments and the
history such a region builds up: module progress, answers with their versions,
message threads, answered questionnaires and delivered notifications. The first
``load_patients`` patients and all clinicians can log in, so the load generator
can drive real sessions.

Bulk ``insert()`` keeps seeding 10,000 enrolments at a few seconds; every row
goes through the ORM models' defaults, so the data has the shape the app writes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

PASSWORD = "bench-password-2026"
# The login patients' authenticator key: patients log in with a second step too.
PATIENT_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@dataclass
class World:
    """What the load generator needs to know about the seeded data."""

    patients: list[tuple[str, int]] = field(default_factory=list)  # (e-mail, enrolment id) of login patients
    clinicians: list[tuple[str, str, int]] = field(default_factory=list)  # (e-mail, TOTP secret, unit id)
    all_units_clinician: tuple[str, str] = ("", "")  # member of every unit: sees all enrolments
    programme: str = "pain-school"
    module: str = ""
    page: int = 1
    block: str = ""
    counts: dict = field(default_factory=dict)


def seed_region(app, *, patients: int = 10_000, units: int = 20, clinicians: int = 60, load_patients: int = 16,
                seed: int = 42) -> World:
    """Insert a region into the app's (empty, migrated) database and describe it."""
    import pyotp
    from sqlalchemy import func, insert, select

    from webapp.auth.models import CareUnit, Membership, User
    from webapp.auth.services import hash_password
    from webapp.content.services import get_catalogue
    from webapp.core.db import utcnow
    from webapp.core.identity import luhn_check_digit
    from webapp.extensions import db
    from webapp.messages.models import Conversation, Message
    from webapp.notifications.models import OutboxItem
    from webapp.programme.models import Answer, AnswerVersion, Enrolment, ModuleProgress
    from webapp.questionnaires.models import Dispatch, Submission

    rng = random.Random(seed)
    now = utcnow()
    world = World()
    with app.app_context():
        programme = get_catalogue().programmes[world.programme]
        modules = programme.published_modules
        blocks = [(m.id, kind, block, items) for m in modules for kind, block, items in m.answer_ids()]
        # The module page the load generator reads and answers on: the first with a reflection question.
        first = next(m for m in modules if any(kind == "reflection" for kind, _b, _i in m.answer_ids()))
        world.module = first.id
        world.block = next(b for kind, b, _i in first.answer_ids() if kind == "reflection")
        version, _fallback = first.version("sv")
        world.page = next((n for n, page in enumerate(version.pages, 1)
                           if any(segment.id == world.block for segment in page.segments)), 1)

        password_hash = hash_password(PASSWORD)
        db.session.execute(insert(CareUnit), [{"id": u, "code": f"unit-{u:02d}", "name": f"Vårdenhet {u:02d}"}
                                             for u in range(1, units + 1)])
        secrets = [pyotp.random_base32() for _ in range(clinicians + 1)]
        staff = [{"id": c, "role": "clinician", "email": f"clinician{c}@bench.example",
                  "full_name": f"Behandlare {c:02d}", "password_hash": password_hash, "totp_secret": secrets[c - 1]}
                 for c in range(1, clinicians + 1)]
        everywhere = clinicians + 1
        staff.append({"id": everywhere, "role": "clinician", "email": "all-units@bench.example",
                      "full_name": "Behandlare Alla", "password_hash": password_hash, "totp_secret": secrets[-1]})
        db.session.execute(insert(User), staff)
        memberships = [{"user_id": c, "care_unit_id": (c - 1) % units + 1} for c in range(1, clinicians + 1)]
        memberships += [{"user_id": everywhere, "care_unit_id": u} for u in range(1, units + 1)]
        db.session.execute(insert(Membership), memberships)
        world.clinicians = [(s["email"], s["totp_secret"], (s["id"] - 1) % units + 1) for s in staff[:clinicians]]
        world.all_units_clinician = (staff[-1]["email"], staff[-1]["totp_secret"])

        people, enrolments, progress, conversations, messages, outbox = [], [], [], [], [], []
        answers: list[dict] = []
        answer_texts: list[list[tuple[str, int]]] = []
        dispatches, responses = [], []
        numbers: set[str] = set()
        for n in range(patients):
            pid = 1000 + n
            enrolment_id = n + 1
            unit = n % units + 1
            born = date(1940, 1, 1) + timedelta(days=rng.randrange(25000))
            serial = f"{born:%y%m%d}{n % 1000:03d}"
            number = f"{born:%Y}{serial[2:]}{luhn_check_digit(serial)}"
            people.append({"id": pid, "role": "patient", "email": f"patient{n}@bench.example",
                           "full_name": f"Patient {n:05d}", "personal_number": None if number in numbers else number,
                           "password_hash": password_hash if n < load_patients else None,
                           "totp_secret": PATIENT_TOTP_SECRET if n < load_patients else None})
            numbers.add(number)
            # Login patients are active and well into the programme, so every module is open.
            started = now - timedelta(days=120 if n < load_patients else rng.randrange(400))
            status = "active" if n < load_patients else rng.choice(["active"] * 8 + ["maintenance", "closed"])
            clinician = unit + units * rng.randrange(clinicians // units)
            enrolments.append({"id": enrolment_id, "patient_id": pid, "programme_id": world.programme,
                               "care_unit_id": unit, "responsible_clinician_id": clinician, "status": status,
                               "recommended_days": 365, "welcome_text": "", "created_at": started,
                               "started_at": started, "closed_at": now if status == "closed" else None,
                               "last_active_at": now - timedelta(days=rng.randrange(60))})
            for module in modules[:rng.randrange(len(modules) + 1)]:
                progress.append({"enrolment_id": enrolment_id, "module_id": module.id, "pages_seen_mask": 7,
                                 "last_page": 3, "seconds_spent": rng.randrange(120, 1800),
                                 "first_opened_at": started, "last_opened_at": started,
                                 "completed_at": started + timedelta(days=7)})
            chosen = rng.sample(blocks, k=min(len(blocks), rng.randrange(7)))
            texts = []
            for module_id, kind, block, items in chosen:
                text = f"Mina tankar om {block}, dag {rng.randrange(1, 300)}." if kind == "reflection" else ""
                value = rng.randrange(11) if kind == "rating" else None
                checked = "0" if kind == "task" and items else ""
                saves = rng.randrange(1, 4)
                answers.append({"enrolment_id": enrolment_id, "module_id": module_id, "block_id": block,
                                "kind": kind, "text": text, "value": value, "checked_items": checked,
                                "version": saves, "created_at": started, "updated_at": started})
                texts.append((text, saves))
            answer_texts.append(texts)
            thread = rng.randrange(7)
            for m in range(thread):
                side = "patient" if m % 2 == 0 else "staff"
                messages.append({"enrolment_id": enrolment_id, "author_id": pid if side == "patient" else clinician,
                                 "side": side, "body": f"Meddelande {m + 1} om veckans övningar.",
                                 "created_at": started + timedelta(days=m + 1),
                                 "read_at": started + timedelta(days=m + 2)})
            if thread:
                conversations.append({"enrolment_id": enrolment_id,
                                      "last_message_at": started + timedelta(days=thread),
                                      "waiting_since": started + timedelta(days=thread) if thread % 2 else None,
                                      "unread_for_patient": 0, "unread_for_staff": thread % 2})
            if rng.random() < 0.8:
                answered = started + timedelta(days=1)
                dispatches.append({"enrolment_id": enrolment_id, "form_id": "phq-9", "sent_by_id": clinician,
                                   "purpose": "before", "created_at": started, "send_at": started,
                                   "answered_at": answered})
                total = rng.randrange(0, 19)
                responses.append({"dispatch_id": len(dispatches), "enrolment_id": enrolment_id, "form_id": "phq-9",
                                  "answers": json.dumps({f"q{i}": 0 for i in range(1, 10)}), "total": float(total),
                                  "submitted_at": answered})
            for kind in ("new_module", "new_message"):
                outbox.append({"kind": kind, "channel": "email", "user_id": pid, "address": f"patient{n}@bench.example",
                               "locale": "sv", "payload": "{}", "status": "sent", "attempts": 1,
                               "due_at": started, "sent_at": started, "created_at": started})
        db.session.execute(insert(User), people)
        db.session.execute(insert(Enrolment), enrolments)
        db.session.execute(insert(ModuleProgress), progress)
        db.session.execute(insert(Answer), answers)
        # Versions need the answers' ids, which the database just gave them.
        answer_ids = db.session.execute(select(Answer.id).order_by(Answer.id)).scalars().all()
        versions = []
        flat = [t for texts in answer_texts for t in texts]
        for answer_id, (text, saves) in zip(answer_ids, flat, strict=True):
            versions += [{"answer_id": answer_id, "version": v, "text": text, "saved_at": now} for v in
                         range(1, saves + 1)]
        db.session.execute(insert(AnswerVersion), versions)
        db.session.execute(insert(Message), messages)
        db.session.execute(insert(Conversation), conversations)
        db.session.execute(insert(Dispatch), dispatches)
        db.session.execute(insert(Submission), responses)
        db.session.execute(insert(OutboxItem), outbox)
        db.session.commit()
        _sync_sequences(db)
        # Planner statistics, as a database in service has them (autovacuum would gather them later).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
        world.patients = [(people[n]["email"], n + 1) for n in range(min(load_patients, patients))]
        for model in (User, Enrolment, ModuleProgress, Answer, AnswerVersion, Message, Dispatch, Submission, OutboxItem):
            world.counts[model.__tablename__] = db.session.scalar(select(func.count()).select_from(model))
    return world


def add_pending_dispatches(app, enrolment_ids: list[int], per_enrolment: int, form_id: str = "phq-9") -> list[tuple[int, int]]:
    """Unanswered questionnaires for the submit benchmark; returns (enrolment id, dispatch id) pairs."""
    from sqlalchemy import insert, select

    from webapp.core.db import utcnow
    from webapp.extensions import db
    from webapp.questionnaires.models import Dispatch

    now = utcnow()
    with app.app_context():
        first = (db.session.scalar(select(Dispatch.id).order_by(Dispatch.id.desc()).limit(1)) or 0) + 1
        # Already told (notified_at set): the submit run measures answering, not the scheduler's release.
        rows = [{"enrolment_id": e, "form_id": form_id, "purpose": "manual", "created_at": now, "send_at": now,
                 "notified_at": now}
                for _ in range(per_enrolment) for e in enrolment_ids]
        db.session.execute(insert(Dispatch), rows)
        db.session.commit()
        return list(db.session.execute(select(Dispatch.enrolment_id, Dispatch.id).where(Dispatch.id >= first)
                                       .where(Dispatch.answered_at.is_(None)).order_by(Dispatch.id)).all())


def _sync_sequences(db) -> None:
    """PostgreSQL: explicit ids leave the id sequences behind; move them past the seeded rows."""
    if db.engine.dialect.name != "postgresql":
        return
    from sqlalchemy import text

    for table in ("care_unit", "user", "enrolment"):
        db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                f"(SELECT MAX(id) FROM \"{table}\"))"))
    db.session.commit()
