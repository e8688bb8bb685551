"""Mandated proposals have no member as author: the charter opens them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.alter_column('author_id', existing_type=sa.Integer(), nullable=True)
    # Sunset votes opened before this: the steward named as author was a stand-in for the charter.
    op.execute("UPDATE proposal SET author_id = NULL WHERE purpose = 'sunset' "
               "AND body LIKE 'The charter requires a re-founding vote every%'")


def downgrade() -> None:
    # A mandated proposal has no author to restore: refuse rather than invent one.
    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.alter_column('author_id', existing_type=sa.Integer(), nullable=False)
