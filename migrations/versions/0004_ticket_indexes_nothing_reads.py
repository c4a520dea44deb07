"""tickets keep only the indexes that queries use

ix_ticket_order_id repeated the lead column of the unique (order_id, position)
index, which finds an order's tickets as well; nothing looks tickets up by
status or by holder email (the backoffice's search matches parts of names and
addresses, which no index serves). Each index cost every ticket INSERT, an
import's hundreds of thousands among them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

DROPPED = {
    'ix_ticket_order_id': ['order_id'],
    'ix_ticket_status': ['status'],
    'ix_ticket_holder_email': ['holder_email'],
}


def upgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        for name in DROPPED:
            batch_op.drop_index(name)


def downgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        for name, columns in DROPPED.items():
            batch_op.create_index(name, columns, unique=False)
