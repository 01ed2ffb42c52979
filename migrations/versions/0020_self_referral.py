"""self-referral: programmes a unit opens to residents, their requests, registration codes, the status "referred"

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 16:15:00

"""
from alembic import op
import sqlalchemy as sa
import webapp.core.db


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('referral_offer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('care_unit_id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.String(length=64), nullable=False),
    sa.Column('screening_forms', sa.String(length=500), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('updated_at', webapp.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['care_unit_id'], ['care_unit.id'], name=op.f('fk_referral_offer_care_unit_id_care_unit'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_referral_offer_updated_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_offer')),
    sa.UniqueConstraint('care_unit_id', 'programme_id', name=op.f('uq_referral_offer_care_unit_id'))
    )
    op.create_table('referral',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', webapp.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', webapp.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', webapp.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.CheckConstraint("status IN ('screening', 'waiting', 'visit', 'accepted', 'declined')", name=op.f('ck_referral_status')),
    sa.ForeignKeyConstraint(['answered_by_id'], ['user.id'], name=op.f('fk_referral_answered_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolment.id'], name=op.f('fk_referral_enrolment_id_enrolment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['offer_id'], ['referral_offer.id'], name=op.f('fk_referral_offer_id_referral_offer'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral')),
    sa.UniqueConstraint('enrolment_id', name=op.f('uq_referral_enrolment_id'))
    )
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index('ix_referral_status', ['status', 'submitted_at'], unique=False)
    op.create_table('registration_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', webapp.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', webapp.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', webapp.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_registration_code_created_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['offer_id'], ['referral_offer.id'], name=op.f('fk_registration_code_offer_id_referral_offer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['used_by_id'], ['user.id'], name=op.f('fk_registration_code_used_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration_code')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_registration_code_code_hash'))
    )
    with op.batch_alter_table('registration_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registration_code_offer_id'), ['offer_id'], unique=False)
    # A request waits as an enrolment with the new status "referred".
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_enrolment_status'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_enrolment_status'), "status IN ('invited', 'active', 'maintenance', 'closed', 'referred')")


def downgrade():
    op.execute("DELETE FROM enrolment WHERE status = 'referred'")
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_enrolment_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_enrolment_status'), "status IN ('invited', 'active', 'maintenance', 'closed')")
    with op.batch_alter_table('registration_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registration_code_offer_id'))
    op.drop_table('registration_code')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_status')
    op.drop_table('referral')
    op.drop_table('referral_offer')
