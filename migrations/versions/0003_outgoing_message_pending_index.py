"""senders claim through an index of the messages still to send

The index on (status, next_attempt_at) let PostgreSQL claim by walking the
primary key from the first message ever sent; a partial index on id of the
queued and sending messages keeps a claim to those.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

STILL_TO_SEND = sa.text("status IN ('queued', 'sending')")


def upgrade():
    with op.batch_alter_table('outgoing_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outgoing_message_due')
        batch_op.create_index(
            'ix_outgoing_message_pending', ['id'], unique=False,
            postgresql_where=STILL_TO_SEND, sqlite_where=STILL_TO_SEND,
        )


def downgrade():
    with op.batch_alter_table('outgoing_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outgoing_message_pending')
        batch_op.create_index('ix_outgoing_message_due', ['status', 'next_attempt_at'], unique=False)
