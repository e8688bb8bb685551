"""Ways of deciding, second part: `proposal.method` (vote, consent, ranked or approval) and
`proposal.seats` (STV), and `ballot.choices` (a ranking or a set of approved options).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD/DROP COLUMN, as 0014.
    op.add_column('proposal', sa.Column('method', sa.String(length=16), nullable=False, server_default='vote'))
    op.add_column('proposal', sa.Column('seats', sa.Integer(), nullable=True))
    op.add_column('ballot', sa.Column('choices', sa.JSON(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE ballot DROP COLUMN choices')
        op.execute('ALTER TABLE proposal DROP COLUMN seats')
        op.execute('ALTER TABLE proposal DROP COLUMN method')
    else:
        op.drop_column('ballot', 'choices')
        op.drop_column('proposal', 'seats')
        op.drop_column('proposal', 'method')
