"""care units can be deactivated

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 16:00:00

"""
from alembic import op
import sqlalchemy as sa
import webapp.core.db


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('care_unit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deactivated_at', webapp.core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('care_unit', schema=None) as batch_op:
        batch_op.drop_column('deactivated_at')
