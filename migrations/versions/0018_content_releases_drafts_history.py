"""content releases, editors' drafts and file history; the release of each answer

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 16:00:00

"""
from alembic import op
import sqlalchemy as sa
import webapp.core.db


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('content_release',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('git_commit', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('error_count', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', webapp.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('released', 'refused')", name=op.f('ck_content_release_status')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_content_release_created_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_release'))
    )
    with op.batch_alter_table('content_release', schema=None) as batch_op:
        batch_op.create_index('ix_content_release_status_id', ['status', 'id'], unique=False)

    op.create_table('content_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('base_hash', sa.String(length=64), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', webapp.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', webapp.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('open', 'approved', 'withdrawn')", name=op.f('ck_content_draft_status')),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], name=op.f('fk_content_draft_author_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['user.id'], name=op.f('fk_content_draft_reviewed_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_draft'))
    )
    with op.batch_alter_table('content_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_content_draft_path'), ['path'], unique=False)

    op.create_table('content_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.Column('old_text', sa.Text(), nullable=True),
    sa.Column('new_text', sa.Text(), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('release_id', sa.Integer(), nullable=True),
    sa.Column('created_at', webapp.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user.id'], name=op.f('fk_content_revision_approved_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], name=op.f('fk_content_revision_author_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['release_id'], ['content_release.id'], name=op.f('fk_content_revision_release_id_content_release'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_revision'))
    )
    with op.batch_alter_table('content_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_content_revision_path'), ['path'], unique=False)

    with op.batch_alter_table('answer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_release', sa.String(length=40), nullable=False, server_default=''))
    with op.batch_alter_table('answer_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_release', sa.String(length=40), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('answer_version', schema=None) as batch_op:
        batch_op.drop_column('content_release')
    with op.batch_alter_table('answer', schema=None) as batch_op:
        batch_op.drop_column('content_release')
    with op.batch_alter_table('content_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_content_revision_path'))
    op.drop_table('content_revision')
    with op.batch_alter_table('content_draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_content_draft_path'))
    op.drop_table('content_draft')
    with op.batch_alter_table('content_release', schema=None) as batch_op:
        batch_op.drop_index('ix_content_release_status_id')
    op.drop_table('content_release')
