"""Sources: the platform message that cast a ballot or opened a proposal (`ballot.source`,
`proposal.source`, with `ix_ballot_member` to find it), so an edit of that message corrects it and
deleting it withdraws the vote; when a proposal was last revised (`proposal.revised_at`); and which
handled commands were refused (`inbound_event.refused`), the only ones an edit may redo.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTERs, as in 0006: a batch copy of these tables on SQLite would cascade.
    op.add_column('ballot', sa.Column('source', sa.String(length=255), nullable=True))
    op.create_index('ix_ballot_member', 'ballot', ['member_id'])
    op.add_column('proposal', sa.Column('source', sa.String(length=255), nullable=True))
    op.add_column('proposal', sa.Column('revised_at', storage.types.UTCDateTime(), nullable=True))
    op.add_column('inbound_event', sa.Column('refused', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column('inbound_event', 'refused')
    op.drop_column('proposal', 'revised_at')
    op.drop_column('proposal', 'source')
    op.drop_index('ix_ballot_member', table_name='ballot')
    op.drop_column('ballot', 'source')
