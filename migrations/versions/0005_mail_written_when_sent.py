"""emails are written when they are sent, in the language of the person they go to

The outbox keeps what a message is (its kind, the ids and link versions it is
about, its language) instead of its rendered subject and bodies. Orders and
tickets remember the language their booker and holder used.

Messages still waiting keep working: their language becomes their shop's, and
their links are written with the versions current when they are sent.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 12:30:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('booker_language', sa.String(length=5), nullable=True))
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('holder_language', sa.String(length=5), nullable=True))
    with op.batch_alter_table('outgoing_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=5), nullable=False, server_default='en'))
        batch_op.add_column(sa.Column('details', sa.JSON(), nullable=False, server_default='{}'))
    op.execute(
        'UPDATE outgoing_message SET language = (SELECT shop.default_language FROM "order" JOIN shop'
        ' ON shop.id = "order".shop_id WHERE "order".id = outgoing_message.order_id)'
        ' WHERE order_id IS NOT NULL'
    )
    with op.batch_alter_table('outgoing_message', schema=None) as batch_op:
        batch_op.alter_column('language', server_default=None)
        batch_op.alter_column('details', server_default=None)
        batch_op.drop_column('subject')
        batch_op.drop_column('body_text')
        batch_op.drop_column('body_html')


def downgrade():
    with op.batch_alter_table('outgoing_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_html', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('body_text', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('subject', sa.String(length=300), nullable=False, server_default=''))
        batch_op.drop_column('details')
        batch_op.drop_column('language')
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('holder_language')
    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.drop_column('booker_language')
