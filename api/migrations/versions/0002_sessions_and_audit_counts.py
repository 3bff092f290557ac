"""server-side sessions and counted audit rows

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Browser sessions move to the database (only a hash of the session id is stored), so logging
out, revoking a key or changing its role or jurisdictions ends them at once; audit rows gain a
count, so a window of rate-limited requests is one row.
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sessions',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('end_reason', sa.String(length=16), nullable=True),
    sa.Column('client', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'], ),
    sa.PrimaryKeyConstraint('id_hash')
    )
    op.create_index(op.f('ix_sessions_key_id'), 'sessions', ['key_id'], unique=False)
    op.create_index(op.f('ix_sessions_expires_at'), 'sessions', ['expires_at'], unique=False)
    with op.batch_alter_table('audit_log') as batch:
        batch.add_column(sa.Column('count', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('audit_log') as batch:
        batch.drop_column('count')
    op.drop_index(op.f('ix_sessions_expires_at'), table_name='sessions')
    op.drop_index(op.f('ix_sessions_key_id'), table_name='sessions')
    op.drop_table('sessions')
