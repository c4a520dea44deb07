"""orders imports run in the background: the import, where it stands, its result, and its file

An import is a row with its state (queued, checking, creating, done, failed), its
progress counters, its result and a worker's claim (claimed_until), as outgoing
messages have; its file is kept in pieces in import_file_part until it is done,
so that any worker on any machine can read it.

Revision ID: 0011
Revises: 0010
Create Date: 2027-01-20 12:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'order_import',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('size_bytes', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=5), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('rows_total', sa.Integer(), nullable=False),
        sa.Column('rows_checked', sa.Integer(), nullable=False),
        sa.Column('orders_total', sa.Integer(), nullable=False),
        sa.Column('orders_created', sa.Integer(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_count', sa.Integer(), nullable=False),
        sa.Column('skipped_count', sa.Integer(), nullable=False),
        sa.Column('skipped_numbers', sa.JSON(), nullable=False),
        sa.Column('errors', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['shop_id'], ['shop.id'], name=op.f('fk_order_import_shop_id_shop')),
        sa.ForeignKeyConstraint(
            ['uploaded_by_id'], ['backoffice_user.id'],
            name=op.f('fk_order_import_uploaded_by_id_backoffice_user'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_order_import')),
    )
    with op.batch_alter_table('order_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_import_shop_id'), ['shop_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_import_status'), ['status'], unique=False)
    op.create_table(
        'import_file_part',
        sa.Column('import_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ['import_id'], ['order_import.id'],
            name=op.f('fk_import_file_part_import_id_order_import'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('import_id', 'position', name=op.f('pk_import_file_part')),
    )


def downgrade():
    op.drop_table('import_file_part')
    with op.batch_alter_table('order_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_import_status'))
        batch_op.drop_index(batch_op.f('ix_order_import_shop_id'))
    op.drop_table('order_import')
