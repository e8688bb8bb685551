"""Proxies: `proxy` (a member's vote lent to another, for one proposal or until a date; one
unrevoked per giver) and `ballot.proxy_by` (a ballot the close cast by proxy, and whose vote it copied).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'proxy',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('coop_id', sa.Integer(), sa.ForeignKey('coop.id', ondelete='CASCADE'), nullable=False),
        sa.Column('giver_id', sa.Integer(), sa.ForeignKey('member.id', ondelete='CASCADE'), nullable=False),
        sa.Column('holder_id', sa.Integer(), sa.ForeignKey('member.id', ondelete='CASCADE'), nullable=False),
        sa.Column('proposal_id', sa.Integer(), sa.ForeignKey('proposal.id', ondelete='CASCADE'), nullable=True),
        sa.Column('until', storage.types.UTCDateTime(), nullable=True),
        sa.Column('given_at', storage.types.UTCDateTime(), nullable=False),
        sa.Column('revoked_at', storage.types.UTCDateTime(), nullable=True),
    )
    op.create_index('uq_proxy_giver_unrevoked', 'proxy', ['giver_id'], unique=True,
                    sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))
    op.create_index('ix_proxy_holder', 'proxy', ['holder_id'])
    # Plain ADD COLUMN, as 0014 and 0015.
    op.add_column('ballot', sa.Column('proxy_by', sa.Integer(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE ballot DROP COLUMN proxy_by')
    else:
        op.drop_column('ballot', 'proxy_by')
    op.drop_index('ix_proxy_holder', table_name='proxy')
    op.drop_index('uq_proxy_giver_unrevoked', table_name='proxy')
    op.drop_table('proxy')
