"""diary entries: the patient's registrations in '::: diary' blocks, with every saved state

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 16:00:00

"""
from alembic import op
import sqlalchemy as sa
import webapp.core.db


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('diary_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('module_id', sa.String(length=64), nullable=False),
    sa.Column('block_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('values', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', webapp.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', webapp.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolment.id'], name=op.f('fk_diary_entry_enrolment_id_enrolment'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_diary_entry')),
    sa.UniqueConstraint('enrolment_id', 'block_id', 'day', name=op.f('uq_diary_entry_enrolment_id'))
    )
    op.create_table('diary_entry_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('values', sa.Text(), nullable=False),
    sa.Column('saved_at', webapp.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['diary_entry.id'], name=op.f('fk_diary_entry_version_entry_id_diary_entry'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_diary_entry_version'))
    )
    with op.batch_alter_table('diary_entry_version', schema=None) as batch_op:
        batch_op.create_index('ix_diary_entry_version_entry_saved', ['entry_id', 'saved_at'], unique=False)


def downgrade():
    with op.batch_alter_table('diary_entry_version', schema=None) as batch_op:
        batch_op.drop_index('ix_diary_entry_version_entry_saved')
    op.drop_table('diary_entry_version')
    op.drop_table('diary_entry')
