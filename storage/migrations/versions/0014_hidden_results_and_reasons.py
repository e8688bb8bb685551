"""Ways of deciding, first part: `proposal.results_hidden` (an open ballot's counts hidden until
the close) and `ballot.reason` (a reason kept with a vote on an open ballot).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD/DROP COLUMN, as 0010: a batch copy of `proposal` on SQLite would cascade into the tables under it.
    op.add_column('proposal', sa.Column('results_hidden', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('ballot', sa.Column('reason', sa.String(length=500), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE ballot DROP COLUMN reason')
        op.execute('ALTER TABLE proposal DROP COLUMN results_hidden')
    else:
        op.drop_column('ballot', 'reason')
        op.drop_column('proposal', 'results_hidden')
