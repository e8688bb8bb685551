"""Member language: `member.language`, the language a member chose for what is sent to them alone
(NULL: the co-op's charter `language`).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('member', sa.Column('language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE member DROP COLUMN language')
    else:
        op.drop_column('member', 'language')
