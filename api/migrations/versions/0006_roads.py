"""roads: the edges of the road network (reach along roads, issue 14)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

One row per edge of the noded road graph of a roads load: its ends ``u``/``v`` (node ids of
that load), the canonical road fields of ``geo/roads.py``, its length in ground metres and its
line (EPSG:4326). A ``--replace`` load marks the edges of the earlier network removed
(``removed_on``); nothing is deleted.
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_geospatial_table('roads',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('u', sa.BigInteger(), nullable=False),
    sa.Column('v', sa.BigInteger(), nullable=False),
    sa.Column('road_class', sa.String(length=32), nullable=False),
    sa.Column('oneway', sa.Boolean(), nullable=False),
    sa.Column('speed_kmh', sa.Float(), nullable=True),
    sa.Column('bridge', sa.Boolean(), nullable=False),
    sa.Column('tunnel', sa.Boolean(), nullable=False),
    sa.Column('layer', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('source_row', sa.BigInteger(), nullable=True),
    sa.Column('length_m', sa.Float(), nullable=False),
    sa.Column('removed_on', sa.Date(), nullable=True),
    sa.Column('load_id', sa.Integer(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='LINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['load_id'], ['loads.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_geospatial_index('idx_roads_geom', 'roads', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_roads_removed_on'), 'roads', ['removed_on'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_roads_removed_on'), table_name='roads')
    op.drop_geospatial_index('idx_roads_geom', table_name='roads', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('roads')
