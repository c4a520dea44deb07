"""requests for a fresh link wait in a table of their own for the worker

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 13:20:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'link_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_number', sa.String(length=40), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('language', sa.String(length=5), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_link_request')),
    )


def downgrade():
    op.drop_table('link_request')
