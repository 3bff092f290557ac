"""population reference dates and what each incidents load covers

Revision ID: 0004
Revises: 0003
Create Date: 2027-01-12

``community_population.reference_date``: the day residents were counted on (七普 2020-11-01,
year-end 12-31; ``pingan load population --reference-date``). NULL, as for every row before
this migration, means 1 July of the row's year (:mod:`geo.exposure`).

``load_coverage``: the days an incidents load covers, per district present in it
(``pingan load incidents --covers``; by default the file's first..last day). A comparison
period not wholly covered is unknown, never a rise (:mod:`geo.completeness`). Existing
incident loads are given their incidents' first..last day (UTC dates; the time zone of the
load was not kept) for each district their incidents lie in.
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('community_population', sa.Column('reference_date', sa.Date(), nullable=True))
    op.create_table(
        'load_coverage',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('load_id', sa.Integer(), sa.ForeignKey('loads.id'), nullable=False,
                  index=True),
        sa.Column('district_code', sa.String(64)),
        sa.Column('first_day', sa.Date(), nullable=False),
        sa.Column('last_day', sa.Date(), nullable=False),
    )
    _cover_existing_loads()


def _cover_existing_loads() -> None:
    conn = op.get_bind()
    inc = sa.table('incidents', sa.column('load_id', sa.Integer),
                   sa.column('occurred_at', sa.DateTime),
                   sa.column('community_code', sa.String))
    comm = sa.table('communities', sa.column('code', sa.String),
                    sa.column('district_code', sa.String))
    spans = {r[0]: (r[1], r[2]) for r in conn.execute(
        sa.select(inc.c.load_id, sa.func.min(inc.c.occurred_at), sa.func.max(inc.c.occurred_at))
        .group_by(inc.c.load_id))}
    districts = conn.execute(
        sa.select(inc.c.load_id, comm.c.district_code).distinct()
        .select_from(inc.join(comm, inc.c.community_code == comm.c.code))).all()
    cover = sa.table('load_coverage', sa.column('load_id', sa.Integer),
                     sa.column('district_code', sa.String), sa.column('first_day', sa.Date),
                     sa.column('last_day', sa.Date))
    rows = [{'load_id': load, 'district_code': district,
             'first_day': _day(spans[load][0]), 'last_day': _day(spans[load][1])}
            for load, district in districts if load in spans]
    if rows:
        conn.execute(cover.insert(), rows)


def _day(value):
    import datetime as dt

    if isinstance(value, str):  # SQLite returns MIN/MAX of a DateTime column as text
        value = dt.datetime.fromisoformat(value)
    return value.date()


def downgrade() -> None:
    op.drop_table('load_coverage')
    # SQLite (3.35+) drops a plain column in place, as in 0003.
    op.drop_column('community_population', 'reference_date')
