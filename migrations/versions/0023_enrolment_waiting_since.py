"""the clinicians' waiting count: each enrolment's waiting conversation, kept by triggers, and an index of them

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08 03:10:00

Every page a clinician opens shows how many conversations in their units wait
for the care team. Counted from the conversations, that probed the
conversation of every open enrolment of the clinician's units: 9,000 probes
and 15 ms of the database on every page for someone who works in 20 units
(issue 25). The conversation's waiting_since is kept on its enrolment
instead, by triggers on every insert, update (of waiting_since or the
enrolment) and delete of a conversation, read from the conversation row
itself, so it equals the definition after every statement whatever code path
wrote it; a partial index holds the waiting enrolments by unit and status.
"""
import sqlalchemy as sa
from alembic import op

import webapp.core.db

# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

NAME = "conversation_keeps_enrolment_waiting_since"
# The waiting_since of enrolment ``{id}``'s conversation (one per enrolment: its primary key).
WAITING = "(SELECT waiting_since FROM conversation WHERE enrolment_id = {id})"


def _set(row: str) -> str:
    ref = f"{row}.enrolment_id"
    return f"UPDATE enrolment SET waiting_since = {WAITING.format(id=ref)} WHERE id = {ref};"


def _postgres() -> list[str]:
    return [f"""
CREATE FUNCTION enrolment_waiting_since_from_conversation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        {_set('NEW')}
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.enrolment_id <> NEW.enrolment_id) THEN
        {_set('OLD')}
    END IF;
    RETURN NULL;
END $$""", f"""
CREATE TRIGGER {NAME} AFTER INSERT OR DELETE ON conversation
FOR EACH ROW EXECUTE FUNCTION enrolment_waiting_since_from_conversation()""", f"""
CREATE TRIGGER {NAME}_update AFTER UPDATE ON conversation
FOR EACH ROW WHEN (OLD.waiting_since IS DISTINCT FROM NEW.waiting_since OR OLD.enrolment_id <> NEW.enrolment_id)
EXECUTE FUNCTION enrolment_waiting_since_from_conversation()"""]


def _sqlite() -> list[str]:
    return [
        f"CREATE TRIGGER {NAME}_insert AFTER INSERT ON conversation BEGIN {_set('NEW')} END",
        f"CREATE TRIGGER {NAME}_update AFTER UPDATE ON conversation WHEN OLD.waiting_since IS NOT NEW.waiting_since "
        f"OR OLD.enrolment_id IS NOT NEW.enrolment_id BEGIN {_set('NEW')} {_set('OLD')} END",
        f"CREATE TRIGGER {NAME}_delete AFTER DELETE ON conversation BEGIN {_set('OLD')} END",
    ]


def upgrade():
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('waiting_since', webapp.core.db.UTCDateTime(timezone=True), nullable=True))
    op.execute(f"UPDATE enrolment SET waiting_since = {WAITING.format(id='enrolment.id')}")
    op.create_index('ix_enrolment_waiting_unit', 'enrolment', ['care_unit_id', 'status'], unique=False,
                    postgresql_where=sa.text('waiting_since IS NOT NULL'),
                    sqlite_where=sa.text('waiting_since IS NOT NULL'))
    bind = op.get_bind()
    for statement in _postgres() if bind.dialect.name == "postgresql" else _sqlite():
        op.execute(statement)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {NAME} ON conversation")
        op.execute(f"DROP TRIGGER IF EXISTS {NAME}_update ON conversation")
        op.execute("DROP FUNCTION IF EXISTS enrolment_waiting_since_from_conversation()")
    else:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {NAME}_{event}")
    op.drop_index('ix_enrolment_waiting_unit', table_name='enrolment')
    # Not batch mode: SQLite's copy-and-rename of the table fails while migration
    # 0022's triggers name it; SQLite 3.35 and later drop a column in place.
    op.execute("ALTER TABLE enrolment DROP COLUMN waiting_since")
