"""What happens to accounts, for the features that react to it."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

account_activated = _signals.signal("account-activated", doc="""
A person has accepted an invitation and chosen a password. The sender is the
``User``. The programme starts the enrolments that waited for the invitation.
""")

care_relation_requested = _signals.signal("care-relation-requested", doc="""
An e-ID login names a patient account that has no password and no invitation:
does a care unit still have an enrolment open for them? The sender is the
``User``; a receiver returns True if so (the programme answers for enrolments).
""")

eid_required_requested = _signals.signal("eid-required-requested", doc="""
A patient has typed the right password: must they log in with e-ID instead?
The sender is the ``User``; a receiver returns True when a care unit with an
open enrolment for them requires e-ID (``CareUnit.requires_eid``).
""")

personal_data_requested = _signals.signal("personal-data-requested", doc="""
A patient's data is being exported (their own "My data", or an administrator's
export for them). The sender is the patient ``User``; a receiver returns
{section name: [model rows]} of what its feature holds about them, for the
features the export cannot import (privacy is their sibling). privacy.services
turns the rows into plain data, as it does with the tables it reads itself.
""")
