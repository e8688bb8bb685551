"""Verbs for affiliated organisations and their allies: allies, ally, unally."""

from __future__ import annotations

from handlers import texts
from handlers.context import Context
from handlers.errors import BadArguments, Conflict, NotAllowed, NotFound
from handlers.parsing import one_line
from handlers.types import Reply, looks_like_platform_id
from handlers.verbs import Call, Standing, verb
from handlers.i18n import N_
from storage.errors import AlreadyExists, HasAllies, NotAffiliated, RegisterChanged, SeatedAuditor
from storage.models import Organisation


@verb("allies", alone=True, who=Standing.MEMBER_OR_ALLY,
      summary=N_("affiliated organisations, their allies, and which one holds the golden share"))
async def allies(ctx: Context, call: Call) -> list[Reply]:
    if call.args.strip():
        raise BadArguments(texts.UNEXPECTED_ARGUMENT)
    roster = await ctx.stores.allies.roster(ctx.coop.id)
    return [Reply(texts.allies_list(ctx.coop.name, roster, ctx.charter.golden_share, ctx.prefix))]


@verb("ally", who=Standing.MEMBER_OR_ALLY, args=N_("<person>"), keys={"org": N_("<organisation>")},
      summary=N_("an ally of that organisation (a steward: its first ally): add a person of an affiliated organisation as an ally"))
async def ally(ctx: Context, call: Call) -> list[Reply]:
    coop = ctx.coop
    org_text = one_line(call.settings.get("org", ""))
    if not org_text:
        raise BadArguments(texts.ALLY_NO_ORG)
    org = await _affiliated(ctx, org_text)
    _may_change(ctx, org)
    # The co-op does not choose who speaks for the movement: a steward adds an organisation's first
    # ally only; after that its allies add and remove its allies (checked again under the lock).
    first = not _speaks_for(ctx, org)
    target = await ctx.member_named(call.args)
    new_account = None
    if target is None:
        who = one_line(call.args)
        bare = who.removeprefix("@") if ctx.sender.platform != "matrix" else who
        if not looks_like_platform_id(ctx.sender.platform, bare):
            raise NotFound(texts.ALLY_UNKNOWN.format(who=who, coop=coop.name))
        new_account = (ctx.sender.platform, bare, bare)
    else:
        await _may_become_ally(ctx, target.display_name, target.status, target.org_id, org)
        if not _is_steward(ctx):
            # Someone's request to join, or someone the co-op removed, is the stewards' to decide:
            # an ally adds only people new to the register.
            raise NotAllowed(texts.ALLY_ENTRY_STEWARD.format(name=target.display_name, coop=coop.name))
    try:
        member = await ctx.stores.allies.add(
            coop.id, org_id=org.id, member_id=None if target is None else target.id, new_account=new_account,
            by=ctx.member.id, now=ctx.now, event=ctx.event, first=first,
            render=lambda m, o: texts.ALLY_ANNOUNCED.format(name=m.display_name, coop=coop.name, org=o.name,
                                                            by=ctx.member.display_name),
        )
    except NotAffiliated:
        raise NotFound(await _org_unknown(ctx, org.name)) from None
    except HasAllies:
        raise NotAllowed(texts.ALLY_FIRST_ONLY.format(org=org.name, coop=coop.name)) from None
    except RegisterChanged as exc:
        # Another command changed the entry first (two `ally` commands for one person at once).
        name = target.display_name if target is not None else new_account[2]
        await _may_become_ally(ctx, name, exc.status, exc.org_id, org)
        raise  # not reached: every status but pending and removed is refused above
    except AlreadyExists:
        raise Conflict(texts.ALLY_RACE.format(who=one_line(call.args), coop=coop.name)) from None
    # Every room is told (who may now be drawn as an auditor, and who added them); a direct chat hears it too.
    return ctx.only_in_direct(texts.ALLY_ADDED.format(name=member.display_name, coop=coop.name, org=org.name))


@verb("unally", who=Standing.MEMBER_OR_ALLY, args=N_("<person>"),
      summary=N_("an ally of that organisation: an ally is an ally no more"))
async def unally(ctx: Context, call: Call) -> list[Reply]:
    coop = ctx.coop
    target = await ctx.member_named(call.args)
    if target is None or target.status != "ally":
        name = one_line(call.args) if target is None else target.display_name
        raise NotFound(texts.UNALLY_NOT_ALLY.format(name=name, coop=coop.name))
    org = await ctx.stores.allies.get(target.org_id) if target.org_id else None
    if not _speaks_for(ctx, org):
        # Nor does it silence one: a steward removing an organisation's allies could remove the
        # golden share's veto, or every voice that would refuse a protected decision.
        raise NotAllowed(texts.UNALLY_NOT_ALLOWED.format(org=org.name if org else "?", coop=coop.name))
    # A drawn auditor is not silenced by anyone else (a steward could add a puppet ally to their
    # organisation to do it): until the audit closes, only they may end their allyship (a
    # disaffiliation by vote still does).
    own = ctx.member.id == target.id
    try:
        await ctx.stores.allies.remove(
            coop.id, target.id, by=ctx.member.id, now=ctx.now, event=ctx.event, spare_auditors=not own,
            render=lambda m, o: texts.UNALLY_ANNOUNCED.format(name=m.display_name, coop=coop.name,
                                                              org=o.name if o else "?", by=ctx.member.display_name))
    except RegisterChanged:
        raise NotFound(texts.UNALLY_NOT_ALLY.format(name=target.display_name, coop=coop.name)) from None
    except SeatedAuditor as exc:
        raise NotAllowed(texts.UNALLY_SEATED.format(name=target.display_name, number=exc.number,
                                                    org=org.name if org else "?")) from None
    return ctx.only_in_direct(texts.UNALLIED.format(name=target.display_name, coop=coop.name,
                                                    org=org.name if org else "?"))


def _is_steward(ctx: Context) -> bool:
    return ctx.member.status == "active" and ctx.member.role == "steward"


def _speaks_for(ctx: Context, org: Organisation | None) -> bool:
    """The sender is an ally of this organisation."""
    return org is not None and ctx.member.status == "ally" and ctx.member.org_id == org.id


def _may_change(ctx: Context, org: Organisation | None) -> None:
    """A steward may add an organisation's first ally; an ally changes their own organisation's."""
    if _is_steward(ctx) or _speaks_for(ctx, org):
        return
    raise NotAllowed(texts.ALLY_NOT_ALLOWED.format(coop=ctx.coop.name, org=org.name if org else "?"))


async def _may_become_ally(ctx: Context, name: str, status: str, org_id: int | None, org: Organisation) -> None:
    """Refuse an entry that may not become `org`'s ally: an active member or someone already an ally."""
    coop = ctx.coop.name
    if status == "active":
        raise Conflict(texts.ALLY_IS_MEMBER.format(name=name, coop=coop))
    if status == "ally" and org_id == org.id:
        raise Conflict(texts.ALLY_ALREADY.format(name=name, coop=coop, org=org.name))
    if status == "ally":
        other = await ctx.stores.allies.get(org_id) if org_id else None
        raise Conflict(texts.ALLY_OTHER_ORG.format(name=name, coop=coop, other=other.name if other else "?",
                                                   org=org.name, prefix=ctx.prefix))


async def _affiliated(ctx: Context, name: str) -> Organisation:
    """The affiliated organisation named (any case), or a refusal naming those there are."""
    for org in await ctx.stores.allies.affiliated(ctx.coop.id):
        if org.key == name.casefold():
            return org
    raise NotFound(await _org_unknown(ctx, name))


async def _org_unknown(ctx: Context, name: str) -> str:
    orgs = ", ".join(o.name for o in await ctx.stores.allies.affiliated(ctx.coop.id)) or texts.NO_ORGS
    return texts.ORG_UNKNOWN.format(org=name, coop=ctx.coop.name, orgs=orgs)

