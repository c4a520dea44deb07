"""a personalisation deadline per shop (and per reopened order), reminders, the booker's gathered mail

Shops get a personalisation deadline and reminder points ("7,1" days before it);
an order reopened after the deadline gets one of its own, and remembers when its
current personalisation round began (for existing orders: when they were made).
timed_mail records each reminder and day-before mail queued, unique per person,
round and point, so that several runs at once never queue one twice.

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-10 12:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'timed_mail',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('point', sa.Integer(), nullable=False),
        sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_timed_mail')),
        sa.UniqueConstraint('kind', 'subject_id', 'round', 'point', name=op.f('uq_timed_mail_kind')),
    )
    with op.batch_alter_table('shop', schema=None) as batch_op:
        batch_op.add_column(sa.Column('personalisation_deadline', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reminder_days', sa.String(length=40), nullable=False, server_default='7,1'))
    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('personalisation_opened_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('own_deadline', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('booker_digest_at', sa.DateTime(timezone=True), nullable=True))
    op.execute('UPDATE "order" SET personalisation_opened_at = created_at')
    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.alter_column('personalisation_opened_at', existing_type=sa.DateTime(timezone=True), nullable=False)
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('booker_told_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('booker_told_at')
    with op.batch_alter_table('order', schema=None) as batch_op:
        batch_op.drop_column('booker_digest_at')
        batch_op.drop_column('own_deadline')
        batch_op.drop_column('personalisation_opened_at')
    with op.batch_alter_table('shop', schema=None) as batch_op:
        batch_op.drop_column('reminder_days')
        batch_op.drop_column('personalisation_deadline')
    op.drop_table('timed_mail')
