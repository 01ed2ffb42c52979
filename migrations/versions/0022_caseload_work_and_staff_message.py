"""caseload triage: each enrolment's latest patient work and latest care-team message, kept by triggers

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 19:30:00

"Waiting for feedback" compares the patient's latest answer or finished module
with the care team's latest message. Computing both for every enrolment of a
region on every caseload request cost a pass over all answers, progress rows
and messages. The two times are kept on the enrolment instead, by triggers in
the database: every insert, update and delete of an answer, a module's
progress or a care-team message (an update: only one that changes the rows'
times, side or enrolment) recomputes them from the rows themselves
(max over the enrolment's rows, not an increment), so they equal the
definition after every statement, whatever code path wrote the rows.
"""
import sqlalchemy as sa
from alembic import op

import webapp.core.db

# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

# The latest answer save or finished module of enrolment ``{id}``.
WORK = ("(SELECT max(at) FROM (SELECT max(updated_at) AS at FROM answer WHERE enrolment_id = {id} "
        "UNION ALL SELECT max(completed_at) FROM module_progress WHERE enrolment_id = {id}) AS work)")
# The latest message the care team sent in enrolment ``{id}``.
STAFF = "(SELECT max(created_at) FROM message WHERE enrolment_id = {id} AND side = 'staff')"

TABLES = {"answer": ("work_at", WORK), "module_progress": ("work_at", WORK), "message": ("staff_message_at", STAFF)}
# An update recomputes only when it changes what the time is made of: a page view updates its
# module's progress (pages, reading time) on every GET, and must not write the enrolment row.
RELEVANT = {"answer": ("updated_at", "enrolment_id"), "module_progress": ("completed_at", "enrolment_id"),
            "message": ("created_at", "side", "enrolment_id")}


def _changed(table: str, distinct: str) -> str:
    return " OR ".join(f"OLD.{column} {distinct} NEW.{column}" for column in RELEVANT[table])


def _set(column: str, expression: str, row: str) -> str:
    ref = f"{row}.enrolment_id"
    return f"UPDATE enrolment SET {column} = {expression.format(id=ref)} WHERE id = {ref};"


def _postgres() -> list[str]:
    statements = []
    for table, (column, expression) in TABLES.items():
        statements.append(f"""
CREATE FUNCTION enrolment_{column}_from_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        {_set(column, expression, 'NEW')}
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.enrolment_id <> NEW.enrolment_id) THEN
        {_set(column, expression, 'OLD')}
    END IF;
    RETURN NULL;
END $$""")
        statements.append(f"""
CREATE TRIGGER {table}_keeps_enrolment_{column} AFTER INSERT OR DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION enrolment_{column}_from_{table}()""")
        statements.append(f"""
CREATE TRIGGER {table}_keeps_enrolment_{column}_update AFTER UPDATE ON {table}
FOR EACH ROW WHEN ({_changed(table, 'IS DISTINCT FROM')}) EXECUTE FUNCTION enrolment_{column}_from_{table}()""")
    return statements


def _sqlite() -> list[str]:
    statements = []
    for table, (column, expression) in TABLES.items():
        name = f"{table}_keeps_enrolment_{column}"
        statements.append(f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} BEGIN "
                          f"{_set(column, expression, 'NEW')} END")
        statements.append(f"CREATE TRIGGER {name}_update AFTER UPDATE ON {table} WHEN {_changed(table, 'IS NOT')} BEGIN "
                          f"{_set(column, expression, 'NEW')} {_set(column, expression, 'OLD')} END")
        statements.append(f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} BEGIN "
                          f"{_set(column, expression, 'OLD')} END")
    return statements


def upgrade():
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('work_at', webapp.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('staff_message_at', webapp.core.db.UTCDateTime(timezone=True), nullable=True))
    op.execute(f"UPDATE enrolment SET work_at = {WORK.format(id='enrolment.id')}, "
               f"staff_message_at = {STAFF.format(id='enrolment.id')}")
    bind = op.get_bind()
    for statement in _postgres() if bind.dialect.name == "postgresql" else _sqlite():
        op.execute(statement)


def downgrade():
    bind = op.get_bind()
    for table, (column, _expression) in TABLES.items():
        name = f"{table}_keeps_enrolment_{column}"
        if bind.dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {name}_update ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS enrolment_{column}_from_{table}()")
        else:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {name}_{event}")
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.drop_column('staff_message_at')
        batch_op.drop_column('work_at')
