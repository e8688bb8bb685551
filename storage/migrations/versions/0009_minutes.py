"""Minutes: each co-op's append-only Merkle log (`minute`), its right edge on the co-op row
(`coop.minutes_size`, `coop.minutes_frontier`), the heads the bot posted (`posted_head`) and
those members witnessed (`witness`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

import sqlmodel
import storage.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTERs: a batch copy of `coop` on SQLite would cascade into every table under it.
    op.add_column('coop', sa.Column('minutes_size', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('coop', sa.Column('minutes_frontier', sa.JSON(), nullable=False, server_default='[]'))
    op.create_table(
        'minute',
        sa.Column('coop_id', sa.Integer(), sa.ForeignKey('coop.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('seq', sa.Integer(), primary_key=True),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('record', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('leaf', sa.String(length=64), nullable=False),
        sa.Column('event_id', sa.BigInteger(), nullable=True),
        sa.Column('at', storage.types.UTCDateTime(), nullable=False),
    )
    op.create_table(
        'posted_head',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('coop_id', sa.Integer(), sa.ForeignKey('coop.id', ondelete='CASCADE'), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('root', sa.String(length=64), nullable=False),
        sa.Column('at', storage.types.UTCDateTime(), nullable=False),
    )
    op.create_index('ix_posted_head_coop', 'posted_head', ['coop_id', 'size'])
    op.create_table(
        'witness',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('coop_id', sa.Integer(), sa.ForeignKey('coop.id', ondelete='CASCADE'), nullable=False),
        sa.Column('member_id', sa.Integer(), sa.ForeignKey('member.id', ondelete='CASCADE'), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('root', sa.String(length=64), nullable=False),
        sa.Column('at', storage.types.UTCDateTime(), nullable=False),
        sa.UniqueConstraint('coop_id', 'member_id', 'size', name='uq_witness_member_size'),
    )
    op.create_index('ix_witness_coop', 'witness', ['coop_id', 'size'])


def downgrade() -> None:
    op.drop_index('ix_witness_coop', table_name='witness')
    op.drop_table('witness')
    op.drop_index('ix_posted_head_coop', table_name='posted_head')
    op.drop_table('posted_head')
    op.drop_table('minute')
    op.drop_column('coop', 'minutes_frontier')
    op.drop_column('coop', 'minutes_size')
