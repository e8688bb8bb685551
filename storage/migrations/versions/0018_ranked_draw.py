"""Ranked proposals: `proposal.draw_id`, the draw of the options announced at the opening whose
order breaks equal counts.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ALTER, as 0010's references: a batch copy of `proposal` on SQLite would cascade into the
    # tables under it.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE proposal ADD COLUMN draw_id INTEGER REFERENCES draw (id)')
    else:
        op.add_column('proposal', sa.Column('draw_id', sa.Integer(), sa.ForeignKey('draw.id'), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE proposal DROP COLUMN draw_id')
    else:
        op.drop_column('proposal', 'draw_id')
