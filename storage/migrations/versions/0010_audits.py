"""Liberation audits: affiliated organisations and their allies (`organisation`, `member.org_id`),
audits (`audit`, at most one running per co-op), their auditors and verdicts, and the audit a
proposal answers or was convened by (`proposal.audit_id`).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'organisation',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('coop_id', sa.Integer(), sa.ForeignKey('coop.id', ondelete='CASCADE'), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('key', sa.String(length=120), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('changed_at', storage.types.UTCDateTime(), nullable=False),
        sa.Column('proposal_id', sa.Integer(), sa.ForeignKey('proposal.id', ondelete='SET NULL'), nullable=True),
        sa.UniqueConstraint('coop_id', 'key', name='uq_organisation_coop_key'),
    )
    op.create_table(
        'audit',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('coop_id', sa.Integer(), sa.ForeignKey('coop.id', ondelete='CASCADE'), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.Column('started_at', storage.types.UTCDateTime(), nullable=False),
        sa.Column('started_by', sa.Integer(), sa.ForeignKey('member.id', ondelete='RESTRICT'), nullable=True),
        sa.Column('draw_id', sa.Integer(), sa.ForeignKey('draw.id', ondelete='RESTRICT'), nullable=True),
        sa.Column('redrawn', sa.Boolean(), nullable=False),
        sa.Column('window_ends_at', storage.types.UTCDateTime(), nullable=True),
        sa.Column('closed_at', storage.types.UTCDateTime(), nullable=True),
        sa.Column('verdict', sa.String(length=24), nullable=True),
        sa.Column('stage', sa.String(length=16), nullable=True),
        sa.Column('revision_due_at', storage.types.UTCDateTime(), nullable=True),
        sa.Column('lapsed', sa.JSON(), nullable=True),
        sa.Column('stewards_draw_id', sa.Integer(), sa.ForeignKey('draw.id', ondelete='RESTRICT'), nullable=True),
        sa.UniqueConstraint('coop_id', 'number', name='uq_audit_coop_number'),
    )
    op.create_index('uq_audit_coop_running', 'audit', ['coop_id'], unique=True,
                    sqlite_where=sa.text("status <> 'closed'"), postgresql_where=sa.text("status <> 'closed'"))
    op.create_index('ix_audit_stage', 'audit', ['stage'])
    op.create_table(
        'auditor',
        sa.Column('audit_id', sa.Integer(), sa.ForeignKey('audit.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('member_id', sa.Integer(), sa.ForeignKey('member.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('org_id', sa.Integer(), sa.ForeignKey('organisation.id', ondelete='SET NULL'), nullable=True),
        sa.Column('draw_id', sa.Integer(), sa.ForeignKey('draw.id', ondelete='RESTRICT'), nullable=False),
    )
    op.create_table(
        'verdict',
        sa.Column('audit_id', sa.Integer(), sa.ForeignKey('audit.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('member_id', sa.Integer(), sa.ForeignKey('member.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('grade', sa.String(length=24), nullable=False),
        sa.Column('findings', sa.String(length=4000), nullable=False),
        sa.Column('at', storage.types.UTCDateTime(), nullable=False),
    )
    _add_reference('member', 'org_id', 'organisation')
    _add_reference('proposal', 'audit_id', 'audit')


def _add_reference(table: str, column: str, target: str) -> None:
    """A nullable column referring to `target`, by a plain ALTER: a batch copy of `member` or
    `proposal` on SQLite would cascade into the tables under them, and Alembic's add_column cannot
    add a reference on SQLite (which takes it inline, with no ON DELETE its reflection could read)."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f'ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES {target} (id)')
    else:
        op.add_column(table, sa.Column(column, sa.Integer(), sa.ForeignKey(f'{target}.id'),
                                       nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+), as 0007 and 0009: a batch copy would drop `member` under its references.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE proposal DROP COLUMN audit_id')
        op.execute('ALTER TABLE member DROP COLUMN org_id')
    else:
        op.drop_column('proposal', 'audit_id')
        op.drop_column('member', 'org_id')
    op.drop_table('verdict')
    op.drop_table('auditor')
    op.drop_index('ix_audit_stage', table_name='audit')
    op.drop_index('uq_audit_coop_running', table_name='audit')
    op.drop_table('audit')
    op.drop_table('organisation')
