"""Consent decisions: `objection`, a member's standing objection (with its reason) to a consent
proposal; one per member and proposal.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'objection',
        sa.Column('proposal_id', sa.Integer(), sa.ForeignKey('proposal.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('member_id', sa.Integer(), sa.ForeignKey('member.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('raised_at', storage.types.UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('objection')
