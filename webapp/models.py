"""Imports every model module so that SQLAlchemy's metadata is complete
(Alembic autogenerate, the model/migration agreement test)."""

from webapp.account.models import ContactChange, Onboarding  # noqa: F401
from webapp.auth.models import AuthToken, CareUnit, Membership, User, UserSession  # noqa: F401
from webapp.careplan.models import CarePlan, CarePlanVersion, FollowUpContact  # noqa: F401
from webapp.core.audit import AccessLogEntry  # noqa: F401
from webapp.core.drafts import Draft  # noqa: F401
from webapp.editor.models import ContentDraft, ContentRelease, ContentRevision  # noqa: F401
from webapp.groups.models import Group, GroupMember, GroupSession  # noqa: F401
from webapp.library.models import SharedInformation  # noqa: F401
from webapp.messages.models import Conversation, Message, MessageTemplate  # noqa: F401
from webapp.notifications.models import NotificationConsent, OutboxItem, SchedulerHeartbeat  # noqa: F401
from webapp.programme.models import (  # noqa: F401
    Answer,
    AnswerVersion,
    DiaryEntry,
    DiaryEntryVersion,
    Enrolment,
    EnrolmentEvent,
    EnrolmentVisit,
    ModuleProgress,
    ScheduleEntry,
)
from webapp.questionnaires.models import Dispatch, Round, Submission  # noqa: F401
from webapp.referrals.models import Referral, ReferralOffer, RegistrationCode  # noqa: F401
from webapp.replies.models import ReferralReply  # noqa: F401
