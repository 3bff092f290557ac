"""prepared results: the landing dashboard's parts stored per data version (issue 16)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

``prepared_results`` keeps JSON answers that take seconds to compute, keyed by a SHA-256 of
what was computed, for which world and role, with which settings and code, and valid for one
data version (api/prepared.py). A restarted server reads them instead of computing again.
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('prepared_results',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('data_version', sa.Integer(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('prepared_results')
