"""The scheduler process: ``flask --app webapp scheduler``.

Run exactly this, beside the web servers, never inside them. Several scheduler
processes may run at once (row claims keep them from sending twice).
"""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Deliver what is due now and exit.")
@with_appcontext
def scheduler_command(once: bool) -> None:
    """Deliver due notifications every SCHEDULER_INTERVAL_SECONDS."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from webapp.extensions import db
    from webapp.notifications.services import Channels, dispatch_all_due

    app = current_app._get_current_object()
    channels = Channels.from_config(app.config)

    def tick() -> None:
        with app.app_context():
            try:
                sent = dispatch_all_due(channels)
                if sent:
                    logging.getLogger("lotsa.scheduler").info("delivered %d notification(s)", sent)
            finally:
                db.session.remove()

    if once:
        tick()
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s scheduler %(levelname)s %(message)s")
    # One line per sweep from APScheduler is noise; our own log says what was sent.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = BlockingScheduler(timezone="UTC")
    # max_instances=1 and coalesce: a slow sweep is never run twice at once.
    scheduler.add_job(tick, "interval", seconds=app.config["SCHEDULER_INTERVAL_SECONDS"],
                      max_instances=1, coalesce=True, id="outbox")
    click.echo(f"Lotsa scheduler: sweeping the outbox every {app.config['SCHEDULER_INTERVAL_SECONDS']} s")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
