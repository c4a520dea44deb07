"""backoffice logins are kept on the server, so that logging out ends them

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 13:40:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'backoffice_session',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['backoffice_user.id'], name=op.f('fk_backoffice_session_user_id_backoffice_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_backoffice_session')),
    )
    with op.batch_alter_table('backoffice_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_backoffice_session_user_id'), ['user_id'], unique=False)


def downgrade():
    op.drop_table('backoffice_session')
