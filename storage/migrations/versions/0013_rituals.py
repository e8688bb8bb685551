"""Rituals: `ritual` (mirror shifts and adversary drills), `drift` (the drift timeline's own
entries), `confession_box` (a co-op's anonymous confessions, kept shuffled in one row), and
`proposal.ritual_id` (a drill's temptations).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ritual',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('coop_id', sa.Integer(), sa.ForeignKey('coop.id', ondelete='CASCADE'), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('started_at', storage.types.UTCDateTime(), nullable=False),
        sa.Column('ends_at', storage.types.UTCDateTime(), nullable=True),
        sa.Column('closed_at', storage.types.UTCDateTime(), nullable=True),
        sa.Column('draw_id', sa.Integer(), sa.ForeignKey('draw.id', ondelete='RESTRICT'), nullable=True),
        sa.Column('format_draw_id', sa.Integer(), sa.ForeignKey('draw.id', ondelete='RESTRICT'), nullable=True),
        sa.Column('facilitator_id', sa.Integer(), sa.ForeignKey('member.id', ondelete='RESTRICT'), nullable=True),
        sa.Column('format', sa.String(length=500), nullable=True),
        sa.Column('redesigns', sa.Integer(), nullable=False),
        sa.Column('speaking_order', sa.JSON(), nullable=True),
        sa.Column('confessions_read', sa.Integer(), nullable=True),
        sa.Column('record', sa.JSON(), nullable=True),
        sa.UniqueConstraint('coop_id', 'kind', 'number', name='uq_ritual_coop_kind_number'),
    )
    op.create_index('uq_ritual_coop_kind_running', 'ritual', ['coop_id', 'kind'], unique=True,
                    sqlite_where=sa.text("status <> 'closed'"), postgresql_where=sa.text("status <> 'closed'"))
    op.create_table(
        'drift',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('coop_id', sa.Integer(), sa.ForeignKey('coop.id', ondelete='CASCADE'), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('text', sa.String(length=1000), nullable=False),
        sa.Column('happened_at', storage.types.UTCDateTime(), nullable=False),
        sa.Column('proposal_id', sa.Integer(), sa.ForeignKey('proposal.id', ondelete='SET NULL'), nullable=True),
        sa.Column('member_id', sa.Integer(), sa.ForeignKey('member.id', ondelete='RESTRICT'), nullable=False),
        sa.Column('recorded_at', storage.types.UTCDateTime(), nullable=False),
        sa.UniqueConstraint('coop_id', 'number', name='uq_drift_coop_number'),
    )
    op.create_table(
        'confession_box',
        sa.Column('coop_id', sa.Integer(), sa.ForeignKey('coop.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('texts', sa.JSON(), nullable=False),
    )
    # Plain ALTER, as 0010: a batch copy of `proposal` on SQLite would cascade into the tables under it.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE proposal ADD COLUMN ritual_id INTEGER REFERENCES ritual (id)')
    else:
        op.add_column('proposal', sa.Column('ritual_id', sa.Integer(), sa.ForeignKey('ritual.id'), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE proposal DROP COLUMN ritual_id')
    else:
        op.drop_column('proposal', 'ritual_id')
    op.drop_table('confession_box')
    op.drop_table('drift')
    op.drop_index('uq_ritual_coop_kind_running', table_name='ritual')
    op.drop_table('ritual')
