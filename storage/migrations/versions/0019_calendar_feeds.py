"""Calendar feeds: `calendar_feed`, a co-op's private .ics feed token (looked up by its SHA-256; one
unrevoked per co-op).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'calendar_feed',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('coop_id', sa.Integer(), sa.ForeignKey('coop.id', ondelete='CASCADE'), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False, unique=True),
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
        sa.Column('revoked_at', storage.types.UTCDateTime(), nullable=True),
    )
    op.create_index('uq_calendar_feed_coop_unrevoked', 'calendar_feed', ['coop_id'], unique=True,
                    sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))


def downgrade() -> None:
    op.drop_index('uq_calendar_feed_coop_unrevoked', table_name='calendar_feed')
    op.drop_table('calendar_feed')
