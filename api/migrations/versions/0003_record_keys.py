"""record keys of incidents (the cell-key release method)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Every incident gets ``rkey``, a 32-bit record key drawn from its id with a keyed hash whose
secret is generated here and kept in ``meta`` (see ``geo/release.py``). Existing incidents are
keyed in batches.
"""
import secrets

from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_BATCH = 20_000


def upgrade() -> None:
    from geo.release import record_keys

    op.add_column('incidents', sa.Column('rkey', sa.BigInteger(), nullable=True))
    conn = op.get_bind()
    meta = sa.table('meta', sa.column('key', sa.String), sa.column('value', sa.Text))
    row = conn.execute(sa.select(meta.c.value).where(meta.c.key == 'release_secret')).first()
    if row is None:
        secret = secrets.token_urlsafe(32)
        conn.execute(meta.insert().values(key='release_secret', value=secret))
    else:
        secret = row[0]
    incidents = sa.table('incidents', sa.column('id', sa.String), sa.column('rkey', sa.BigInteger))
    ids = [r[0] for r in conn.execute(sa.select(incidents.c.id).where(incidents.c.rkey.is_(None)))]
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start:start + _BATCH]
        keys = record_keys(chunk, secret.encode('ascii'))
        conn.execute(incidents.update().where(incidents.c.id == sa.bindparam('b_id'))
                     .values(rkey=sa.bindparam('b_rkey')),
                     [{'b_id': i, 'b_rkey': int(k)} for i, k in zip(chunk, keys, strict=True)])


def downgrade() -> None:
    # SQLite (3.35+) drops a plain column in place; a batch copy of the table would trip over
    # the foreign key to loads and SpatiaLite's geometry triggers.
    op.drop_column('incidents', 'rkey')
