"""The access log in words: what each recorded action means, in the reader's language.

Rows keep their stable codes (``enrolment.view``, ``security.unit_removed``):
the CSV and the patient's own extract rely on them. Administrators read them
through these labels; ``tests/admin`` checks that every action the code can
write has one.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

ACTIONS = {
    "auth.login": _l("Logged in"),
    "auth.invitation_accepted": _l("Accepted an invitation"),
    "auth.password_reset": _l("Chose a new password with a reset link"),
    "caseload.view": _l("Opened the caseload"),
    "enrolment.view": _l("Opened a patient's overview"),
    "enrolment.answers": _l("Read a patient's answers"),
    "enrolment.schedule": _l("Opened a patient's schedule"),
    "enrolment.outcomes": _l("Opened a patient's questionnaires"),
    "enrolment.care": _l("Opened a patient's plan and contacts"),
    "enrolment.settings": _l("Opened a patient's settings and access"),
    "follow_ups.view": _l("Opened the follow-up contacts"),
    "group.view": _l("Opened a group"),
    "inbox.view": _l("Opened the inbox"),
    "information.share": _l("Sent patient information"),
    "messages.view": _l("Read a patient's messages"),
    "patient.lookup": _l("Looked up a patient by personal identity number"),
    "plan.view": _l("Opened a patient's care plan"),
    "privacy.erase": _l("Erased a patient's data"),
    "privacy.export": _l("Exported a patient's data"),
    "privacy.export_own": _l("Downloaded their own data"),
    "privacy.lookup": _l("Looked up a patient for a data request"),
    "privacy.view_own": _l("Read their own data"),
    "questionnaires.export": _l("Exported questionnaire results"),
    "questionnaires.round": _l("Opened a questionnaire send-out"),
    "questionnaires.rounds": _l("Opened the questionnaire send-outs"),
    "fhir.export": _l("Exported answers as FHIR"),
    "referrals.triage": _l("Opened the self-referrals"),
    "referrals.view": _l("Opened a self-referral"),
    "register.export": _l("Exported the register follow-up"),
    "reply.edit": _l("Opened the reply to the referring unit"),
    "reply.print": _l("Opened the printable reply to the referring unit"),
    "reply.save": _l("Saved a reply to the referring unit"),
    "safety_alert.acknowledge": _l("Acknowledged a safety alert"),
    "safety_alert.view": _l("Opened a safety alert"),
    "safety_alerts.view": _l("Opened the safety alerts"),
    "security.access_log_read": _l("Read the access log"),
    "security.account_deactivated": _l("Deactivated a staff account"),
    "security.account_locked": _l("Account locked after failed attempts"),
    "security.attempt_while_locked": _l("Tried to log in while locked out"),
    "security.eid_refused": _l("e-ID login refused"),
    "security.eid_self_registered": _l("Created an account with e-ID to refer themselves"),
    "security.hsa_id_removed": _l("Removed an HSA-id"),
    "security.hsa_id_set": _l("Set an HSA-id"),
    "security.identity_number_replaced": _l("Replaced a personal identity number"),
    "security.login_failed": _l("Failed login"),
    "security.login_refused": _l("Login refused"),
    "security.logout": _l("Logged out"),
    "security.logout_everywhere": _l("Logged out on every device"),
    "security.passkey_added": _l("Added a passkey"),
    "security.passkey_refused": _l("Passkey refused"),
    "security.password_set": _l("Set a new password"),
    "security.patient_data_erased": _l("Erased a patient's data"),
    "security.patient_data_exported": _l("Exported a patient's data"),
    "security.registration_codes_created": _l("Created registration codes"),
    "security.registration_code_used": _l("Registered with a code"),
    "security.registration_code_refused": _l("Registration code refused"),
    "security.reauthenticated": _l("Confirmed who they are again"),
    "security.role_granted": _l("Account created with a role"),
    "security.role_changed": _l("Changed a staff member's role"),
    "security.staff_invited": _l("Invited a staff member"),
    "security.two_factor_failed": _l("Wrong two-factor code"),
    "security.two_factor_reset": _l("Reset a staff member's second factor"),
    "security.two_factor_set_up": _l("Set up the second factor"),
    "security.unit_added": _l("Added a staff member to a care unit"),
    "security.unit_removed": _l("Removed a staff member from a care unit"),
    "security.unit_created": _l("Created a care unit"),
    "security.unit_renamed": _l("Renamed a care unit"),
    "security.unit_deactivated": _l("Deactivated a care unit"),
    "security.unit_reactivated": _l("Took a care unit back into use"),
}


def action_label(action: str) -> str:
    """The action in words; an action this version does not know stays its code."""
    label = ACTIONS.get(action)
    return str(label) if label is not None else action
