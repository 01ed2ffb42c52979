"""The scheduler process: ``flask --app webapp scheduler run``.

Run exactly this, beside the web servers, never inside them. Each tick runs the
periodic jobs below; several scheduler processes may run at once because every
job claims its rows (FOR UPDATE SKIP LOCKED) and marks what it has done.
"""

from __future__ import annotations

import logging
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
    from webapp.questionnaires.jobs import release_scheduled, remind_unanswered, send_day_measures

    def job(fn):
        # Each job in its own transaction: a long one never holds the row locks
        # (on SQLite, the database) that another job took.
        result = fn()
        db.session.commit()
        return result

    beat()
    swept = job(sweep_enrolments)
    measures = job(send_day_measures)
    released = job(release_scheduled)
    reminded = job(remind_unanswered)
    contacts = job(remind_contacts)
    purged = job(purge_expired_records)
    sent = dispatch_all_due(channels)
    return {**swept, "questionnaires_measured": measures, "questionnaires_released": released,
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
    from webapp.notifications.services import Channels

    app = current_app._get_current_object()
    channels = Channels.from_config(app.config)

    def tick() -> None:
        with app.app_context():
            try:
                result = run_jobs(channels)
                if any(result.values()):
                    log.info("scheduler: %s", result)
            except Exception:  # one failed tick must not stop the next ones
                log.exception("scheduler tick failed")
            finally:
                db.session.remove()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s scheduler %(levelname)s %(message)s")
    if once:
        tick()
        return
    # One line per sweep from APScheduler is noise; our own log says what was done.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = BlockingScheduler(timezone="UTC")
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
