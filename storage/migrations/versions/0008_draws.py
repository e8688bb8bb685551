"""Draws anyone can replay: `draw` (pool, exclusions, commitment, the secret kept until revealed,
the draw time, the result) and `draw_contribution` (members' shuffles, in the order received).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'draw',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('coop_id', sa.Integer(), sa.ForeignKey('coop.id', ondelete='CASCADE'), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=100), nullable=False),
        sa.Column('seats', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=8), nullable=False),
        sa.Column('pool', sa.JSON(), nullable=False),
        sa.Column('excluded', sa.JSON(), nullable=False),
        sa.Column('commitment', sa.String(length=64), nullable=False),
        sa.Column('secret', sa.String(length=64), nullable=False),
        sa.Column('draw_at', storage.types.UTCDateTime(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
        sa.Column('created_by', sa.Integer(), sa.ForeignKey('member.id', ondelete='RESTRICT'), nullable=True),
        sa.Column('drawn_at', storage.types.UTCDateTime(), nullable=True),
        sa.UniqueConstraint('coop_id', 'number', name='uq_draw_coop_number'),
    )
    op.create_index('ix_draw_status_at', 'draw', ['status', 'draw_at'])
    op.create_table(
        'draw_contribution',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('draw_id', sa.Integer(), sa.ForeignKey('draw.id', ondelete='CASCADE'), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), sa.ForeignKey('member.id', ondelete='SET NULL'), nullable=True),
        sa.Column('text', sa.String(length=200), nullable=False),
        sa.Column('at', storage.types.UTCDateTime(), nullable=False),
        sa.UniqueConstraint('draw_id', 'seq', name='uq_draw_contribution_seq'),
    )


def downgrade() -> None:
    op.drop_table('draw_contribution')
    op.drop_index('ix_draw_status_at', table_name='draw')
    op.drop_table('draw')
