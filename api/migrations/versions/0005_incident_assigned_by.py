"""incidents assigned by a snapping tolerance: the tolerance of each incidents load

Revision ID: 0005
Revises: 0004
Create Date: 2027-01-10

``incidents.assigned_by`` gains the value ``'snap'`` (beside ``'point'`` and ``'code'``): a
point in no community given to the only community within the load's tolerance
(``pingan load incidents --snap-m``). The tolerance is kept with the load (``loads.snap_m``,
ground metres; NULL for the loads before it, which snapped nothing), so a re-assignment after a
boundary load applies each incident's tolerance again. Going down, the snapped incidents return
to no community (what the earlier code would assign) and the data version moves on.
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('loads', sa.Column('snap_m', sa.Float(), nullable=True))


def downgrade() -> None:
    conn = op.get_bind()
    snapped = conn.execute(sa.text(
        "UPDATE incidents SET community_code = NULL, assigned_by = NULL "
        "WHERE assigned_by = 'snap'")).rowcount
    if snapped:
        bumped = conn.execute(sa.text(
            "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
            "WHERE key = 'data_version'")).rowcount
        if not bumped:
            conn.execute(sa.text("INSERT INTO meta (key, value) VALUES ('data_version', '1')"))
    # SQLite (3.35+) drops a plain column in place, as in 0003.
    op.drop_column('loads', 'snap_m')
