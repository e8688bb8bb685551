"""What the clock keeps between runs of the due work: the co-ops as last read and their calendar
plans, all derived from the database."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from handlers.charter import Charter
from handlers.due import CalendarPlan, CoopView, plan_calendar
from storage.stores import Stores


@dataclass
class DueState:
    """What the clock keeps between runs, so a run costs what fell due since the last one and not
    what is pending. It holds no deadline: everything in it is derived from stored rows and derived
    again when they change, so a fresh state (a restart, a test) reaches the same outcome."""

    since: datetime | None = None  # deadline reminders have been looked at up to this moment
    full_at: datetime | None = None  # the last full look
    coops: dict[int, CoopView] = field(default_factory=dict)
    plans: dict[int, CalendarPlan] = field(default_factory=dict)
    planned: set[int] = field(default_factory=set)  # co-ops whose plan's claims are known to be recorded
    vows_done: set[str] = field(default_factory=set)  # vow reminder claims known to be recorded

    async def refresh(self, stores: Stores) -> bool:
        """Read every co-op's charter (as text; parsed only when it changed). True if a co-op or
        a charter is new since the last run."""
        known = {view.text: view.charter for view in self.coops.values()}
        coops, changed = {}, False
        for coop_id, name, founded_at, text in await stores.coops.schedule_view():
            old = self.coops.get(coop_id)
            if old is not None and old.text == text and old.name == name and old.founded_at == founded_at:
                coops[coop_id] = old
                continue
            changed = changed or old is None or old.text != text
            charter = known.get(text) or Charter.from_json(json.loads(text))
            known[text] = charter
            coops[coop_id] = CoopView(coop_id, name, founded_at, text, charter)
        changed = changed or len(coops) != len(self.coops)
        self.coops = coops
        self.plans = {coop_id: plan for coop_id, plan in self.plans.items() if coop_id in coops}
        self.planned &= set(coops)
        return changed

    def plan(self, view: CoopView, now: datetime) -> CalendarPlan:
        """The co-op's calendar plan at `now`: the kept one while it holds, else a new one (whose
        claims are not yet known to be recorded)."""
        plan = self.plans.get(view.id)
        if plan is None or not plan.holds(view, now):
            plan = self.plans[view.id] = plan_calendar(view, now)
            self.planned.discard(view.id)
        return plan
