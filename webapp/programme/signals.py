"""What happens to an enrolment, for the features that react to it.

The enrolment knows nothing of questionnaires or notifications beyond its own;
a feature that must act when an enrolment starts or a programme is done
connects a receiver here (see each feature's ``receivers.py``), so the
dependency points down into ``programme`` and never back up. Receivers run in
the sender's transaction: what they write commits, or rolls back, with it.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

enrolment_started = _signals.signal("enrolment-started", doc="""
The patient's access to a programme has started: opened for a patient who
already has an account, or the invitation accepted. The sender is the
``Enrolment``. Questionnaires send the programme's "start" measures.
""")

programme_completed = _signals.signal("programme-completed", doc="""
The patient has marked the last module of a programme done. The sender is the
``Enrolment``. Questionnaires send the programme's "end" measures.
""")
