"""Link codes remember the issuer's direct chat and the account that asks, until the issuer confirms.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Codes live 15 minutes: any made before this step would link without being confirmed.
    op.execute("DELETE FROM code WHERE purpose = 'link'")
    with op.batch_alter_table('code', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column('asked_platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column('asked_user_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column('asked_chat_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('code', schema=None) as batch_op:
        batch_op.drop_column('asked_chat_id')
        batch_op.drop_column('asked_user_id')
        batch_op.drop_column('asked_platform')
        batch_op.drop_column('chat_id')
