"""Sources: the platform message that cast a ballot or opened a proposal (`ballot.source`,
`proposal.source`), so an edit of that message corrects it and deleting it withdraws the vote.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTERs, as in 0006: a batch copy of these tables on SQLite would cascade.
    op.add_column('ballot', sa.Column('source', sa.String(length=255), nullable=True))
    op.add_column('proposal', sa.Column('source', sa.String(length=255), nullable=True))


def downgrade() -> None:
    op.drop_column('proposal', 'source')
    op.drop_column('ballot', 'source')
