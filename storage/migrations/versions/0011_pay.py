"""Pay scale: `pay`, each member's pay rates and the changes the wage-ratio cap refused.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pay',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('coop_id', sa.Integer(), sa.ForeignKey('coop.id', ondelete='CASCADE'), nullable=False),
        sa.Column('member_id', sa.Integer(), sa.ForeignKey('member.id', ondelete='RESTRICT'), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('per', sa.String(length=8), nullable=False),
        sa.Column('hours', sa.Integer(), nullable=True),
        sa.Column('hourly', sa.String(length=64), nullable=False),
        sa.Column('ratio', sa.String(length=64), nullable=False),
        sa.Column('set_at', storage.types.UTCDateTime(), nullable=False),
        sa.Column('set_by', sa.Integer(), sa.ForeignKey('member.id', ondelete='RESTRICT'), nullable=False),
        sa.Column('status', sa.String(length=8), nullable=False),
    )
    op.create_index('ix_pay_coop_member', 'pay', ['coop_id', 'member_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_pay_coop_member', table_name='pay')
    op.drop_table('pay')
