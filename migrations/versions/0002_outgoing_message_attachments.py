"""outgoing messages can carry tickets as a PDF attachment

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    # Batch mode: SQLite cannot alter tables in place; on PostgreSQL it is a plain ALTER.
    with op.batch_alter_table('outgoing_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attach_ticket_ids', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('outgoing_message', schema=None) as batch_op:
        batch_op.drop_column('attach_ticket_ids')
