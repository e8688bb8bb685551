"""Protected decisions: `proposal.protection` and `proposal.veto`, and `consent`, each affiliated
organisation's voice on a protected proposal.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD/DROP COLUMN, as 0010: a batch copy of `proposal` on SQLite would cascade into the tables under it.
    op.add_column('proposal', sa.Column('protection', sa.JSON(), nullable=True))
    op.add_column('proposal', sa.Column('veto', sa.JSON(), nullable=True))
    op.create_table(
        'consent',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('proposal_id', sa.Integer(), sa.ForeignKey('proposal.id', ondelete='CASCADE'), nullable=False),
        sa.Column('org_id', sa.Integer(), sa.ForeignKey('organisation.id', ondelete='RESTRICT'), nullable=False),
        sa.Column('member_id', sa.Integer(), sa.ForeignKey('member.id', ondelete='RESTRICT'), nullable=False),
        sa.Column('yes', sa.Boolean(), nullable=False),
        sa.Column('at', storage.types.UTCDateTime(), nullable=False),
        sa.UniqueConstraint('proposal_id', 'org_id', name='uq_consent_proposal_org'),
    )


def downgrade() -> None:
    op.drop_table('consent')
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE proposal DROP COLUMN veto')
        op.execute('ALTER TABLE proposal DROP COLUMN protection')
    else:
        op.drop_column('proposal', 'veto')
        op.drop_column('proposal', 'protection')
