"""batch results: what ``pingan batch --to-db`` writes (issue 15 item 7)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

A batch run over an incident archive (``batch_runs``: archive, period, settings, data version,
when and by whom) with its merged counts (``batch_month_counts``: local year × month ×
community × category × status × location class; ``batch_cell_counts``: year × month ×
category × status × grid cell) and the period's community results (``batch_rates``: cases,
population, rates and the class of the rate hot spots). Rows of a run are written in one
transaction; nothing else reads or changes them.
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('batch_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('archive', sa.String(length=1000), nullable=False),
    sa.Column('period', sa.String(length=64), nullable=False),
    sa.Column('categories', sa.Text(), nullable=False),
    sa.Column('assigned', sa.Boolean(), nullable=False),
    sa.Column('cell_m', sa.Float(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('permutations', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('data_version', sa.Integer(), nullable=False),
    sa.Column('partitions', sa.Integer(), nullable=False),
    sa.Column('workers', sa.Integer(), nullable=False),
    sa.Column('records', sa.BigInteger(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=False),
    sa.Column('run_by', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('batch_month_counts',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('community_code', sa.String(length=64), nullable=True),
    sa.Column('category', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=100), nullable=True),
    sa.Column('location', sa.String(length=8), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['batch_runs.id'], ),
    )
    op.create_index(op.f('ix_batch_month_counts_run_id'), 'batch_month_counts', ['run_id'],
                    unique=False)
    op.create_table('batch_cell_counts',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=100), nullable=True),
    sa.Column('ix', sa.BigInteger(), nullable=False),
    sa.Column('iy', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['batch_runs.id'], ),
    )
    op.create_index(op.f('ix_batch_cell_counts_run_id'), 'batch_cell_counts', ['run_id'],
                    unique=False)
    op.create_table('batch_rates',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('community_code', sa.String(length=64), nullable=False),
    sa.Column('cases', sa.BigInteger(), nullable=False),
    sa.Column('population', sa.Float(), nullable=True),
    sa.Column('case_rate_per_10k', sa.Float(), nullable=True),
    sa.Column('case_rate_per_10k_annual', sa.Float(), nullable=True),
    sa.Column('case_rate_eb_per_10k_annual', sa.Float(), nullable=True),
    sa.Column('hotspot_class', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['batch_runs.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'community_code')
    )


def downgrade() -> None:
    op.drop_table('batch_rates')
    op.drop_index(op.f('ix_batch_cell_counts_run_id'), table_name='batch_cell_counts')
    op.drop_table('batch_cell_counts')
    op.drop_index(op.f('ix_batch_month_counts_run_id'), table_name='batch_month_counts')
    op.drop_table('batch_month_counts')
    op.drop_table('batch_runs')
