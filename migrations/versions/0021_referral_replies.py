"""replies to the referring unit

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 16:00:00

"""
from alembic import op
import sqlalchemy as sa
import webapp.core.db


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('referral_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('recipient', sa.String(length=300), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', webapp.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_referral_reply_created_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolment.id'], name=op.f('fk_referral_reply_enrolment_id_enrolment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_reply')),
    sa.UniqueConstraint('enrolment_id', 'number', name=op.f('uq_referral_reply_enrolment_id'))
    )
    with op.batch_alter_table('referral_reply', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_reply_enrolment_id'), ['enrolment_id'], unique=False)


def downgrade():
    with op.batch_alter_table('referral_reply', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_reply_enrolment_id'))
    op.drop_table('referral_reply')
