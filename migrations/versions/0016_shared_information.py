"""patient information sent to a patient

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 12:30:00

"""
from alembic import op
import sqlalchemy as sa
import webapp.core.db


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('shared_information',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.String(length=64), nullable=False),
    sa.Column('module_id', sa.String(length=64), nullable=False),
    sa.Column('shared_by_id', sa.Integer(), nullable=True),
    sa.Column('shared_at', webapp.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolment.id'], name=op.f('fk_shared_information_enrolment_id_enrolment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shared_by_id'], ['user.id'], name=op.f('fk_shared_information_shared_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shared_information'))
    )
    with op.batch_alter_table('shared_information', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shared_information_enrolment_id'), ['enrolment_id'], unique=False)


def downgrade():
    with op.batch_alter_table('shared_information', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shared_information_enrolment_id'))
    op.drop_table('shared_information')
