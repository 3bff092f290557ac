"""saved areas: drawn or picked areas of the map workspace, named per key (issue 16 item 4)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

One row per saved area: the key that saved it, its name (unique per key), the area as it was
asked for (``spec``: JSON of a drawn polygon, a circle, or a community, facility or road
picked by name) and when. The area is resolved again each time it is read, so a liaison's
saved area is checked against the jurisdiction their key holds at that moment.
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('saved_areas',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('spec', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_id', 'name', name='uq_saved_areas_key_name')
    )
    op.create_index(op.f('ix_saved_areas_key_id'), 'saved_areas', ['key_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_saved_areas_key_id'), table_name='saved_areas')
    op.drop_table('saved_areas')
