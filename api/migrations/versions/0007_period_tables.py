"""period tables: incidents counted per community x local day/month x category x status

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

``period_day_counts`` and ``period_month_counts`` (see ``api/period_tables.py``): records, the
sum of their record keys and the records without coordinates, per community (``''``:
unassigned) x local day or month x category x status (``''``: none). Existing incidents are
counted here, in local days of Asia/Shanghai (the default zone); a load in another configured
zone recounts them in its zone.
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_TABLES = (('period_day_counts', 'day'), ('period_month_counts', 'month'))


def upgrade() -> None:
    from api.period_tables import rebuild
    from geo.period import DEFAULT_TIMEZONE

    for name, unit in _TABLES:
        op.create_table(name,
        sa.Column(unit, sa.Date(), nullable=False),
        sa.Column('community_code', sa.String(length=64), nullable=False),
        sa.Column('category', sa.String(length=100), nullable=False),
        sa.Column('status', sa.String(length=100), nullable=False),
        sa.Column('records', sa.BigInteger(), nullable=False),
        sa.Column('key_sum', sa.BigInteger(), nullable=False),
        sa.Column('unlocated', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(unit, 'community_code', 'category', 'status')
        )
    rebuild(op.get_bind(), DEFAULT_TIMEZONE)


def downgrade() -> None:
    meta = sa.table('meta', sa.column('key', sa.String))
    op.get_bind().execute(meta.delete().where(meta.c.key == 'period_tables_timezone'))
    for name, _ in reversed(_TABLES):
        op.drop_table(name)
