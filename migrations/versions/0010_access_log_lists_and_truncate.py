"""access log: the patients a list showed; PostgreSQL refuses TRUNCATE too

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    # Adding a column is not an UPDATE of existing rows: the append-only triggers allow it.
    with op.batch_alter_table('access_log', recreate='never') as batch_op:
        batch_op.add_column(sa.Column('patient_ids', sa.Text(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
                      FOR EACH STATEMENT EXECUTE FUNCTION access_log_refuse_change()""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER access_log_no_truncate ON access_log")
    with op.batch_alter_table('access_log', recreate='never') as batch_op:
        batch_op.drop_column('patient_ids')
