"""Last looks: a proposal's count waits until every platform with a room in its co-op has brought
in its votes up to the closing time (`last_look`), for a grace counted from the first try
(`proposal.counting_since`), so one process per platform cannot count without the others.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'last_look',
        sa.Column('proposal_id', sa.Integer(), sa.ForeignKey('proposal.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('platform', sa.String(length=16), primary_key=True),
        sa.Column('at', storage.types.UTCDateTime(), nullable=False),
    )
    # A plain ALTER (no batch copy): copying `proposal` on SQLite would drop the old table, and
    # with foreign keys on that cascades into every ballot.
    op.add_column('proposal', sa.Column('counting_since', storage.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column('proposal', 'counting_since')  # SQLite 3.35+ drops a plain column in place
    op.drop_table('last_look')
