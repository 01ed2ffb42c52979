"""The scheduler process: ``flask --app webapp scheduler run``.

Run exactly this, beside the web servers, never inside them. Each tick runs the
periodic jobs below; several scheduler processes may run at once because every
job claims its rows (FOR UPDATE SKIP LOCKED) and marks what it has done.

SIGTERM and SIGINT stop it gracefully: the notification being sent is finished
and recorded, the rest of its claimed batch is handed back unsent (pending
again, for any scheduler's next tick), and the process exits. A scheduler that
is killed outright leaves its claims to expire: another one takes them over
after OUTBOX_CLAIM_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timezone

import click
from flask import current_app
from flask.cli import with_appcontext

log = logging.getLogger("lotsa.scheduler")


def run_jobs(channels=None) -> dict:
    """One tick: enrolment reminders and closes first, so their messages go out at once."""
    from webapp.careplan.services import remind_contacts
    from webapp.extensions import db
    from webapp.notifications.services import beat, dispatch_all_due
    from webapp.privacy.services import purge_expired_records
    from webapp.programme.jobs import sweep_enrolments
    from webapp.questionnaires.jobs import (
        escalate_safety_alerts,
        release_scheduled,
        remind_unanswered,
        send_day_measures,
        send_register_timepoints,
    )

    def job(fn):
        # Each job in its own transaction: a long one never holds the row locks
        # (on SQLite, the database) that another job took.
        result = fn()
        db.session.commit()
        return result

    beat()
    swept = job(sweep_enrolments)
    escalated = job(escalate_safety_alerts)
    measures = job(send_day_measures)
    register = job(send_register_timepoints)
    released = job(release_scheduled)
    reminded = job(remind_unanswered)
    contacts = job(remind_contacts)
    purged = job(purge_expired_records)
    sent = dispatch_all_due(channels)
    return {**swept, "safety_alerts_escalated": escalated, "questionnaires_measured": measures,
            "register_questionnaires": register, "questionnaires_released": released,
            "questionnaire_reminders": reminded, "contact_reminders": contacts, "records_purged": purged, "sent": sent}


@click.group("scheduler")
def scheduler_command() -> None:
    """The scheduler process: reminders, automatic closes and notification delivery."""


@scheduler_command.command("run")
@click.option("--once", is_flag=True, help="Run the jobs once and exit.")
@with_appcontext
def run(once: bool) -> None:
    """Run the periodic jobs every SCHEDULER_INTERVAL_SECONDS (catching up on start)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from webapp.extensions import db
    from webapp.notifications.services import STOPPING, Channels

    app = current_app._get_current_object()
    channels = Channels.from_config(app.config)
    # Held while a tick runs, so stopping can wait for the item in hand.
    ticking = threading.Lock()
    scheduler = None if once else BlockingScheduler(timezone="UTC")
    STOPPING.clear()

    def tick() -> None:
        if STOPPING.is_set():
            return
        with ticking, app.app_context():
            try:
                result = run_jobs(channels)
                if any(result.values()):
                    log.info("scheduler: %s", result)
            except Exception:  # one failed tick must not stop the next ones
                log.exception("scheduler tick failed")
            finally:
                db.session.remove()

    def stop(signum, _frame) -> None:
        # A signal handler interrupts the main thread anywhere, possibly inside
        # APScheduler holding its locks: only set the flag here, and shut the
        # scheduler down from another thread. The tick in progress stops after
        # the item in hand; then start() returns.
        if STOPPING.is_set():
            return
        log.info("scheduler: %s received, stopping after the notification in hand",
                 signal.Signals(signum).name)
        STOPPING.set()
        if scheduler is not None:
            threading.Thread(target=_shut_down, args=(scheduler,), name="lotsa-scheduler-stop").start()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s scheduler %(levelname)s %(message)s")
    # Put back afterwards: `--once` also runs inside other programs (the tests' CLI runner).
    previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        if scheduler is None:
            tick()
        else:
            _run_every_interval(app, scheduler, tick)
    finally:
        _hand_back(app, ticking)
        for number, handler in previous.items():
            signal.signal(number, handler)


def _shut_down(scheduler) -> None:
    from apscheduler.schedulers import SchedulerNotRunningError

    try:
        scheduler.shutdown(wait=False)
    except SchedulerNotRunningError:  # a signal before start() or after the end
        pass


# Seconds a stopping scheduler waits for the tick in progress: the item being
# sent times out within about 10 s per SMTP step; systemd's TimeoutStopSec is 20 s.
STOP_GRACE_SECONDS = 15


def _hand_back(app, ticking: threading.Lock) -> None:
    """After the last tick: hand this process's unsent claims back, so nothing waits for the claim timeout."""
    from webapp.extensions import db
    from webapp.notifications.services import release_claims

    if not ticking.acquire(timeout=STOP_GRACE_SECONDS):
        # A delivery hangs: its claims (the item in hand among them) are left to
        # expire rather than risk a second scheduler sending that item again now.
        log.warning("scheduler: the tick in progress did not finish; its claims expire after "
                    "OUTBOX_CLAIM_TIMEOUT_SECONDS")
        return
    try:
        with app.app_context():
            released = release_claims()
            if released:
                log.info("scheduler: %d claimed notification(s) handed back unsent", released)
            db.session.remove()
    except Exception:  # the database may be what is failing; the claims then expire
        log.exception("scheduler: could not hand back its claims; they expire after OUTBOX_CLAIM_TIMEOUT_SECONDS")
    finally:
        ticking.release()


def _run_every_interval(app, scheduler, tick) -> None:
    """Run ``tick`` every SCHEDULER_INTERVAL_SECONDS until the scheduler is shut down."""
    # One line per sweep from APScheduler is noise; our own log says what was done.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # max_instances=1 and coalesce: a slow tick is never run twice at once.
    # Whatever fell due while no scheduler ran is picked up by the first tick:
    # jobs read due rows from the database, nothing lives in the scheduler's memory.
    scheduler.add_job(tick, "interval", seconds=app.config["SCHEDULER_INTERVAL_SECONDS"],
                      max_instances=1, coalesce=True, misfire_grace_time=60, id="lotsa-jobs",
                      next_run_time=datetime.now(timezone.utc))
    click.echo(f"Lotsa scheduler: running jobs every {app.config['SCHEDULER_INTERVAL_SECONDS']} s")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
