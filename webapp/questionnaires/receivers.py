"""What questionnaires do when something happens to an enrolment.

Connected once by ``create_app`` (blinker ignores a second connection of the
same receiver). Each runs in the sender's transaction.
"""

from __future__ import annotations

from webapp.programme.signals import enrolment_started, programme_completed
from webapp.questionnaires.services import send_programme_measures, send_register_forms


def send_start_measures(enrolment, **_extra) -> None:
    """The programme's "before" measures go out when the patient's access starts."""
    send_programme_measures(enrolment, "start")
    send_register_forms(enrolment, "start")  # after the measures: a form both name goes out once


def send_end_measures(enrolment, **_extra) -> None:
    """The "after" measures go out when the last module is done."""
    send_programme_measures(enrolment, "end")
    send_register_forms(enrolment, "end")


def connect() -> None:
    enrolment_started.connect(send_start_measures)
    programme_completed.connect(send_end_measures)
