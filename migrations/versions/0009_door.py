"""at the door: shop signing keys, barcode versions and short codes, admissions, door users

Every existing shop gets its first Ed25519 key and every existing ticket a short
code; barcode versions start at 1. The unsigned `barcode` column stays: PDFs made
before this revision carry it, and the door still accepts it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 13:00:00.000000

"""
import secrets
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# As portal.barcodes has them today (a migration must not change when the code does).
SHORT_CODE_ALPHABET = "234679ACDEFHJKMNPRTUVWXY"
SHORT_CODE_LENGTH = 12
BATCH = 1000


def _short_code():
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))


def upgrade():
    with op.batch_alter_table('backoffice_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=10), server_default='admin', nullable=False))
        batch_op.add_column(sa.Column('name', sa.String(length=100), nullable=True))

    shop_key = op.create_table('shop_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('private_key', sa.LargeBinary(length=32), nullable=True),
    sa.Column('public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shop.id'], name=op.f('fk_shop_key_shop_id_shop')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shop_key')),
    sa.UniqueConstraint('shop_id', 'number', name=op.f('uq_shop_key_shop_id'))
    )

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('barcode_version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('short_code', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('admitted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('admitted_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_ticket_admitted_by_id_backoffice_user'), 'backoffice_user', ['admitted_by_id'], ['id'])

    connection = op.get_bind()
    now = datetime.now(UTC)
    keys = []
    for (shop_id,) in connection.execute(sa.text('SELECT id FROM shop')):
        private_key = Ed25519PrivateKey.generate()
        keys.append({'shop_id': shop_id, 'number': 1, 'private_key': private_key.private_bytes_raw(),
                     'public_key': private_key.public_key().public_bytes_raw(), 'created_at': now})
    if keys:
        op.bulk_insert(shop_key, keys)

    ticket = sa.table('ticket', sa.column('id', sa.Integer()), sa.column('short_code', sa.String()))
    ids = [row[0] for row in connection.execute(sa.text('SELECT id FROM ticket ORDER BY id'))]
    codes = set()
    for start in range(0, len(ids), BATCH):
        rows = []
        for ticket_id in ids[start:start + BATCH]:
            code = _short_code()
            while code in codes:
                code = _short_code()
            codes.add(code)
            rows.append({'ticket_id': ticket_id, 'code': code})
        connection.execute(
            ticket.update().where(ticket.c.id == sa.bindparam('ticket_id')).values(short_code=sa.bindparam('code')), rows
        )

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.alter_column('short_code', existing_type=sa.String(length=12), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_ticket_short_code'), ['short_code'])


def downgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_ticket_short_code'), type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_ticket_admitted_by_id_backoffice_user'), type_='foreignkey')
        batch_op.drop_column('admitted_by_id')
        batch_op.drop_column('admitted_at')
        batch_op.drop_column('short_code')
        batch_op.drop_column('barcode_version')

    op.drop_table('shop_key')

    with op.batch_alter_table('backoffice_user', schema=None) as batch_op:
        batch_op.drop_column('name')
        batch_op.drop_column('role')
