"""order numbers are unique per organizer, not across the whole database

With numbers unique across all organizers, one organizer's import learned that
another used a number (a probe), and could take a number before its owner did (a
block). Orders keep their shop's organizer, and the pair is unique.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 13:10:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organizer_id', sa.Integer(), nullable=True))
    op.execute('UPDATE "order" SET organizer_id = (SELECT shop.organizer_id FROM shop WHERE shop.id = "order".shop_id)')
    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.alter_column('organizer_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_order_organizer_id_organizer'), 'organizer', ['organizer_id'], ['id']
        )
        batch_op.drop_constraint('uq_order_number', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_order_organizer_id'), ['organizer_id', 'number'])


def downgrade():
    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_order_organizer_id'), type_='unique')
        batch_op.create_unique_constraint('uq_order_number', ['number'])
        batch_op.drop_constraint(batch_op.f('fk_order_organizer_id_organizer'), type_='foreignkey')
        batch_op.drop_column('organizer_id')
