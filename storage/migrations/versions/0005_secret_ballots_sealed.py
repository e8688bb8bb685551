"""Secret ballots sealed: a ballot's option may be NULL (a secret ballot that has ended keeps who
voted, not what), and what was stored before is brought to that rule: vote events of secret
ballots lose their choices, and every secret ballot already closed or withdrawn is sealed (its
tally logged as `ballot_sealed`, its ballots' options set to NULL).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections import Counter
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

proposal = sa.table(
    'proposal', sa.column('id', sa.Integer), sa.column('coop_id', sa.Integer), sa.column('ballot', sa.String),
    sa.column('status', sa.String), sa.column('options', sa.JSON), sa.column('ended_at', storage.types.UTCDateTime()),
)
ballot = sa.table('ballot', sa.column('proposal_id', sa.Integer), sa.column('option', sa.Integer))
event = sa.table(
    'governance_event', sa.column('id', sa.BigInteger), sa.column('coop_id', sa.Integer),
    sa.column('proposal_id', sa.Integer), sa.column('member_id', sa.Integer), sa.column('kind', sa.String),
    sa.column('data', sa.JSON), sa.column('at', storage.types.UTCDateTime()),
)
VOTES = ('vote_cast', 'vote_changed', 'vote_withdrawn')


def upgrade() -> None:
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.alter_column('option', existing_type=sa.Integer(), nullable=True)
    bind = op.get_bind()
    secret = bind.execute(sa.select(proposal).where(proposal.c.ballot == 'secret')).all()
    for p in secret:
        bind.execute(event.update().where(event.c.proposal_id == p.id, event.c.kind.in_(VOTES)).values(data={}))
        if p.status == 'open':
            continue
        stored = Counter(dict(bind.execute(
            sa.select(ballot.c.option, sa.func.count()).where(ballot.c.proposal_id == p.id,
                                                              ballot.c.option.is_not(None))
            .group_by(ballot.c.option)).all()))
        tally = [stored.get(i, 0) for i in range(len(p.options))]
        bind.execute(event.insert().values(
            coop_id=p.coop_id, proposal_id=p.id, member_id=None, kind='ballot_sealed',
            data={'tally': tally, 'voters': sum(tally)}, at=p.ended_at or datetime.now(timezone.utc)))
        bind.execute(ballot.update().where(ballot.c.proposal_id == p.id).values(option=None))


def downgrade() -> None:
    # The choices destroyed cannot come back: sealed ballots (who voted on an ended secret ballot)
    # go, so that the column can be NOT NULL again; the sealed tallies stay in the log.
    op.execute(ballot.delete().where(ballot.c.option.is_(None)))
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.alter_column('option', existing_type=sa.Integer(), nullable=False)
