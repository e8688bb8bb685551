"""`coopbot export`: the register, proposals, votes and results as JSON, CSV or Markdown."""

from __future__ import annotations

import csv
import io
import json
import re

from handlers.charter import Charter
from handlers.money import format_amount
from handlers.pay import hourly_words
from handlers.surplus import ledger
from handlers.tally import DecisionRule, Outcome
from handlers.texts import REASONS, measured_ratio, pay_words, percent, threshold_of, threshold_words
from storage.models import Coop
from storage.stores import Stores
from fractions import Fraction


async def collect(stores: Stores, coop_name: str | None = None) -> dict:
    """Everything a member may see, per co-op. Secret ballots give tallies only."""
    coops = await stores.coops.list()
    if coop_name is not None:
        coops = [c for c in coops if c.name.casefold() == coop_name.casefold()]
    return {"coops": [await _coop(stores, coop) for coop in coops]}


async def _coop(stores: Stores, coop: Coop) -> dict:
    register = await stores.members.register(coop.id)
    names = {m.id: m.display_name for m in register}
    accounts = await stores.members.accounts(coop.id)
    proposals = []
    for p in await stores.proposals.list(coop.id):
        entry = {
            "number": p.number,
            "title": p.title,
            "body": p.body,
            "author": names.get(p.author_id),
            "kind": p.kind,
            "ballot": p.ballot,
            "options": p.options,
            "status": p.status,
            "opened_at": p.opened_at.isoformat(),
            "closes_at": p.closes_at.isoformat(),
            "ended_at": p.ended_at.isoformat() if p.ended_at else None,
            "ended_by": names.get(p.ended_by) if p.ended_by else None,
            "end_reason": p.end_reason,
            "electorate": p.electorate_size,
            "rule": p.rule,
            "action": _action(p.action, names),
        }
        counts = await stores.proposals.counts(p.id, len(p.options), p.method)
        ballots = await stores.votes.ballots(p.id)
        if p.method != "vote":
            entry["method"] = p.method
        if p.seats:
            entry["seats"] = p.seats
        # Counts (and who chose what) are the record's once the ballot is closed, or while an open
        # ballot with results shown runs; not while a secret or hidden-results ballot is open.
        hidden = (p.status == "open" and p.ballot == "secret") or (p.results_hidden and p.status != "closed")
        entry["tally"] = None if hidden else dict(zip(p.options, counts))
        # An approval ballot counts for each option it approves: the turnout is the ballots.
        entry["turnout"] = len(ballots) if p.method == "approval" else sum(counts)
        if p.status == "closed":  # counted again from the event log alone, for `coopbot verify`
            entry["recount"] = await stores.proposals.recount(p.id, len(p.options))
        if p.result is not None and p.result.get("method") in ("ranked", "approval"):
            entry["result"] = _chosen(p)
        elif p.result is not None:
            outcome = Outcome.from_json(p.result)
            entry["result"] = {
                "passed": outcome.passed,
                "reason": outcome.reason or None,
                "counts": dict(zip(p.options, outcome.counts)),
                # A consent proposal's quorum also counts those who only objected.
                "voters": p.result.get("voters", outcome.voters),
                "electorate": outcome.electorate,
                "turnout": percent(Fraction(p.result.get("voters", outcome.voters), outcome.electorate))
                if outcome.electorate else "0%",
                "quorum": percent(outcome.rule.quorum),
                "threshold": threshold_words(outcome.rule),
                "support": percent(outcome.support) if outcome.support is not None else None,
                "chosen": p.options[outcome.winner] if outcome.passed and outcome.winner is not None else None,
                **({"objections": p.result.get("objections", [])} if p.method == "consent" else {}),
            }
        else:
            entry["result"] = None
        if (p.result or {}).get("by_proxy"):  # on a secret ballot, only who voted by proxy
            entry["by_proxy"] = [dict(zip(("member", "holder"), pair)) for pair in p.result["by_proxy"]]
        if p.protection is not None:
            entry["protected"] = await _protected(stores, p, names)
        if p.method != "vote":
            entry["method"] = p.method
        if p.method == "consent":
            # Those standing now; once closed, those that stood at the count (the result names them too).
            entry["objections"] = [{"member": o.name, "reason": o.reason, "at": o.raised_at.isoformat()}
                                   for o in await stores.objections.standing(p.id)]
            entry["revisions"] = await stores.objections.revisions(p.id)
        if p.ballot == "open" and not hidden:
            entry["votes"] = [
                {"member": names.get(b.member_id), "option": p.options[b.option], "at": b.cast_at.isoformat(),
                 **({"reason": b.reason} if b.reason else {}),
                 **({"by_proxy": names.get(b.proxy_by)} if b.proxy_by else {}),
                 # A ranking (most preferred first) or the options approved; `option` is its first.
                 **({CHOICES[p.method]: [p.options[i] for i in b.choices]} if b.choices else {})}
                for b in ballots if b.option is not None
            ]
        entry["results_hidden"] = p.results_hidden
        proposals.append(entry)
    return {
        "name": coop.name,
        "founded_at": coop.founded_at.isoformat(),
        "charter": Charter.from_json(coop.charter).to_json(),
        "rooms": [{"platform": r.platform, "chat_id": r.chat_id} for r in await stores.coops.rooms(coop.id)],
        "members": [
            {
                "name": m.display_name,
                "role": m.role,
                "status": m.status,
                "accounts": [f"{a.platform}:{a.user_id}" for a in accounts if a.member_id == m.id],
            }
            for m in register
        ],
        "proposals": proposals,
        **await _books(stores, coop),
        "minutes": await _minutes(stores, coop, names),
        "draws": await _draws(stores, coop),
        "audits": await _audits(stores, coop),
        "pay": await _pay(stores, coop, names),
    }


async def _pay(stores: Stores, coop: Coop, names: dict[int, str]) -> list[dict]:
    """The pay history, oldest first: every change set or refused, with its exact hourly equivalent
    (minor units per hour as a fraction, "500000/173") and the ratio it gave."""
    return [{"member": names.get(p.member_id), "amount": format_amount(p.amount, p.currency), "amount_minor": p.amount,
             "currency": p.currency, "per": p.per, "hours": p.hours, "hourly_minor": p.hourly,
             "hourly": hourly_words(p.hourly, p.currency), "ratio": p.ratio, "status": p.status,
             "set_at": p.set_at.isoformat(), "set_by": names.get(p.set_by)}
            for p in await stores.pay.history(coop.id)]


async def _protected(stores: Stores, p, names: dict[int, str]) -> dict:
    """A protected decision's other parts: the organisations frozen into it and what each said,
    the share of them needed, who called it in, and the golden share's veto."""
    by = p.protection.get("by")
    return {
        "organisations": [{"name": v.org, "consent": v.yes, "by": v.by, "still_affiliated": v.counted}
                          for v in await stores.firewalls.voices(p)],
        "needed": threshold_of(Fraction(p.protection["threshold"][0]), bool(p.protection["threshold"][1])),
        "since": p.protection["since"],
        "called_in_by": {"name": by["name"], "organisation": by["org"]} if by else None,
        "veto": {k: p.veto[k] for k in ("name", "org", "reason", "at")} if p.veto else None,
        "organisations_met": (p.result or {}).get("bodies", {}).get("met"),
    }


async def _audits(stores: Stores, coop: Coop) -> list[dict]:
    """Every liberation audit: its auditors and, once closed, each verdict with its findings (the
    grades are published together at the close, so an open audit's are not exported)."""
    out = []
    for a in await stores.audits.list(coop.id):
        seats = await stores.audits.seats(a.id)
        item = {"number": a.number, "status": a.status, "reason": a.reason, "started_at": a.started_at.isoformat(),
                "auditors": [{"name": s.name, "organisation": s.org} for s in seats], "verdict": a.verdict,
                "stage": a.stage,
                "revision_due_at": a.revision_due_at.isoformat() if a.revision_due_at else None}
        if a.status == "closed":
            item["verdicts"] = [{"name": v.name, "organisation": v.org, "grade": v.grade, "findings": v.findings}
                                for v in await stores.audits.verdicts(a.id)]
        out.append(item)
    return out


async def _draws(stores: Stores, coop: Coop) -> list[dict]:
    """Every draw as announced and, once drawn, what replays it (`coopbot verify` does): the secret
    of a draw not yet made never leaves the database."""
    out = []
    for d in await stores.draws.list(coop.id):
        item = {"number": d.number, "purpose": d.purpose, "seats": d.seats, "pool": [p["name"] for p in d.pool],
                "excluded": d.excluded, "commitment": d.commitment, "draw_at": d.draw_at.isoformat(), "status": d.status}
        if any(p.get("org") for p in d.pool):  # one seat per organisation: the replay needs each one's
            item["organisations"] = [p.get("org") for p in d.pool]
        if d.status == "drawn":
            item["secret"] = d.secret
            item["contributions"] = (d.result or {}).get("contributions", [])
            item["result"] = [seat["name"] for seat in (d.result or {}).get("seated", [])]
        out.append(item)
    return out


async def _minutes(stores: Stores, coop: Coop, names: dict[int, str]) -> dict:
    """Every leaf of the co-op's minutes (its canonical record and leaf hash), the head, and every
    head the bot posted or a member witnessed: what `coopbot verify` and the README's verifier check."""
    head = await stores.minutes.head(coop.id)
    return {
        "size": head.size,
        "head": head.root,
        "leaves": [{"seq": m.seq, "kind": m.kind, "record": m.record, "leaf": m.leaf}
                   for m in await stores.minutes.leaves(coop.id)],
        "posted": [{"size": h.size, "root": h.root, "at": h.at.isoformat()} for h in await stores.minutes.posted(coop.id)],
        "witnessed": [{"size": w.size, "root": w.root, "member": names.get(w.member_id), "at": w.at.isoformat()}
                      for w in await stores.minutes.witnessed(coop.id)],
    }


CHOICES = {"ranked": "ranking", "approval": "approved"}


def _chosen(p) -> dict:
    """A ranked or approval result: as a vote's (counts per option: first preferences, or
    approvals), with each round of a ranked count by option name and the options elected."""
    r, rule = p.result, DecisionRule.from_json(p.result["rule"])
    out = {
        "method": r["method"], "passed": r["passed"], "reason": r["reason"] or None,
        "counts": dict(zip(p.options, r["counts"])), "voters": r["voters"], "electorate": r["electorate"],
        "turnout": percent(Fraction(r["voters"], r["electorate"])) if r["electorate"] else "0%",
        "quorum": percent(rule.quorum),
        # A ranked count has no threshold: its rounds make the majority (or the quota) themselves.
        "threshold": threshold_words(rule) if r["method"] == "approval" else "none (counted in rounds)",
    }
    if r["method"] == "ranked":
        out.update(seats=r["seats"], elected=[p.options[i] for i in r["elected"]], draw=r.get("draw"),
                   tie_order=[p.options[i] for i in r["order"]],
                   rounds=[{"votes": dict(zip(p.options, x["votes"])), "status": dict(zip(p.options, x["status"])),
                            "exhausted": x["exhausted"]} for x in r["rounds"]])
    else:
        out.update(support=percent(Fraction(r["support"])) if r["support"] is not None else None,
                   chosen=p.options[r["winner"]] if r["passed"] and r["winner"] is not None else None)
    return out


def _action(action: dict | None, names: dict[int, str]) -> dict | None:
    """What a proposal would change, as stored, with a waived member given by name: an amendment
    keeps its changed charter leaves and the words it was said in."""
    if not action:
        return None
    if "amend" in action:
        out = {"amend": action["amend"], "said": action.get("said", [])}
        if "changes" in action:  # before and after, in words (proposals made since cards show them)
            out["changes"] = action["changes"]
        return out
    if "waive" in action:
        out = {"waive": action.get("name") or names.get(action["waive"])}
        if "round" in action:
            out["round"] = action["round"]
        return out
    return dict(action)


def action_line(action: dict | None) -> str:
    """An exported action in words: `amend: timezone = Europe/Berlin; …` or `waive: <name>`."""
    if not action:
        return ""
    parts = []
    for key, value in action.items():
        if key == "amend":
            parts.append("amend: " + "; ".join(action.get("said") or [json.dumps(value, ensure_ascii=False)]))
        elif key == "waive":
            parts.append(f"waive: {value}")
        elif key not in ("said", "changes", "round"):
            parts.append(f"{key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}")
    return "; ".join(parts)


async def _books(stores: Stores, coop: Coop) -> dict:
    """Rounds with their allocations, the vows (every one, restated ones included) and the ledger."""
    names = {m.id: m.display_name for m in await stores.members.register(coop.id)}
    rounds, vows, ledger_rows = [], [], []
    for entry in await ledger(stores, coop.id):
        r = entry["round"]
        fmt = lambda minor, c=r.currency: format_amount(minor, c)
        funds_total = sum(a for _, a in entry["funds"])
        shares_total = sum(a for _, a, _ in entry["shares"])
        rounds.append({
            "number": r.number, "currency": r.currency, "amount": fmt(r.amount), "amount_minor": r.amount,
            "movement_share": r.movement_share, "member_split": r.member_split, "status": r.status,
            "opened_at": r.opened_at.isoformat(), "paid_at": r.paid_at.isoformat() if r.paid_at else None,
            "funds": [{"fund": n, "amount": fmt(a), "amount_minor": a} for n, a in entry["funds"]],
            "shares": [{"member": n, "amount": fmt(a), "amount_minor": a, "hours": h} for n, a, h in entry["shares"]],
            "funds_total_minor": funds_total, "shares_total_minor": shares_total,
        })
        vows += [{"round": r.number, "member": names.get(v.member_id), "text": v.text, "at": v.at.isoformat()}
                 for v in await stores.rounds.vow_history(r.id)]
        ledger_rows.append({"round": r.number, "entry": "surplus", "amount_minor": r.amount, "currency": r.currency})
        ledger_rows += [{"round": r.number, "entry": f"fund: {n}", "amount_minor": a, "currency": r.currency}
                        for n, a in entry["funds"]]
        if r.status == "paid":
            ledger_rows += [{"round": r.number, "entry": f"payout: {n}", "amount_minor": a, "currency": r.currency}
                            for n, a, _ in entry["shares"]]
    return {"rounds": rounds, "vows": vows, "ledger": ledger_rows}


def to_json(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV Injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A cell as a spreadsheet will show it, never run it: text starting like a formula gets a
    leading single quote (OWASP's advice), which spreadsheets hide and read as "this is text"."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class _SafeWriter:
    """csv.writer whose every text cell goes through `csv_cell`: titles, names (pending members'
    too), options, vows, fund names and accounts are all member-supplied."""

    def __init__(self, out: io.StringIO) -> None:
        self._writer = csv.writer(out, lineterminator="\n")

    def writerow(self, row: list) -> None:
        self._writer.writerow([csv_cell(cell) for cell in row])


def to_csv(data: dict) -> str:
    """One table, one row per fact: co-op, section, and the section's fields."""
    out = io.StringIO()
    writer = _SafeWriter(out)
    writer.writerow(["coop", "section", "number", "title", "member", "role", "status", "option", "count", "detail",
                     "action"])
    for coop in data["coops"]:
        c = coop["name"]
        for m in coop["members"]:
            writer.writerow([c, "member", "", "", m["name"], m["role"], m["status"], "", "", " ".join(m["accounts"])])
        for p in coop["proposals"]:
            detail = ""
            if p["result"]:
                r = p["result"]
                detail = (
                    f"{'passed' if r['passed'] else 'failed: ' + REASONS[r['reason']]}; turnout {r['voters']}/{r['electorate']}"
                    f" ({r['turnout']}); quorum {r['quorum']}; threshold {r['threshold']}"
                )
            writer.writerow([c, "proposal", p["number"], p["title"], p["author"], p["kind"], p["status"], p["ballot"],
                             p["turnout"], detail, action_line(p["action"])])
            for option, n in (p["tally"] or {}).items():
                writer.writerow([c, "tally", p["number"], p["title"], "", "", p["status"], option, n, ""])
            for v in p.get("votes", []):
                writer.writerow([c, "vote", p["number"], p["title"], v["member"], "", "", v["option"], "", v["at"]])
            if protected := p.get("protected"):
                for o in protected["organisations"]:
                    said = {True: "yes", False: "no", None: ""}[o["consent"]]
                    writer.writerow([c, "consent", p["number"], p["title"], o["by"] or "", "", "", said, "",
                                     o["name"] + ("" if o["still_affiliated"] else " (disaffiliated)")])
                if veto := protected["veto"]:
                    writer.writerow([c, "veto", p["number"], p["title"], veto["name"], "", "", "", "",
                                     f"{veto['org']}: {veto['reason']}"])
            for o in p.get("objections", []):
                writer.writerow([c, "objection", p["number"], p["title"], o["member"], "", "", "", "", o["reason"]])
        for r in coop["rounds"]:
            writer.writerow([c, "round", r["number"], "", "", "", r["status"], r["currency"], r["amount"], r["member_split"]])
            for f in r["funds"]:
                writer.writerow([c, "fund", r["number"], f["fund"], "", "", "", r["currency"], f["amount"], ""])
            for sh in r["shares"]:
                writer.writerow([c, "share", r["number"], "", sh["member"], "", "", r["currency"], sh["amount"], sh["hours"] or ""])
        for v in coop["vows"]:
            writer.writerow([c, "vow", v["round"], "", v["member"], "", "", "", "", v["text"]])
        for p in coop.get("pay", []):
            writer.writerow([c, "pay", "", "", p["member"], "", p["status"], p["currency"], p["amount"],
                             f"{_pay_words(p)}; {p['hourly']} an hour; set {p['set_at']} by {p['set_by']}"])
    return out.getvalue()


def _pay_words(p: dict) -> str:
    return pay_words(p["per"], p["amount"], p["hours"])


# Inline Markdown (CommonMark, GitHub's extensions: strikethrough, tables, math) and HTML. A
# backslash makes any ASCII punctuation literal; <, > and & become entities, which every renderer,
# CommonMark or not, shows as the characters themselves.
_INLINE = {c: "\\" + c for c in "\\`*_[]|~$#"} | {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_INLINE_TABLE = str.maketrans(_INLINE)
# What makes a line a list item, quote, rule or setext underline, at its start (a heading's # is
# escaped wherever it is, since a heading also loses its trailing #s).
_LINE_START = re.compile(r"^(\s*(?:\d+)?)([>+=.)-])")


def _text(text) -> str:
    """Member-supplied text as literal Markdown: it renders as exactly the characters typed."""
    return _LINE_START.sub(r"\1\\\2", str(text if text is not None else "").translate(_INLINE_TABLE), count=1)


def _cell(text) -> str:
    """Member-supplied text on one line (a heading, a table cell, a list item)."""
    return _text(" ".join(str(text if text is not None else "").splitlines()))


def to_markdown(data: dict) -> str:
    lines: list[str] = []
    for coop in data["coops"]:
        lines += [f"# {_cell(coop['name'])}", "", "## Register", "", "| member | role | status |", "|---|---|---|"]
        lines += [f"| {_cell(m['name'])} | {m['role']} | {m['status']} |" for m in coop["members"]]
        lines += ["", "## Proposals", ""]
        for p in coop["proposals"]:
            lines.append(f"### #{p['number']} {_cell(p['title'])}")
            lines.append(f"{p['kind']}, {p['ballot']} ballot, {p['status']}; by {_cell(p['author'])}; closes {p['closes_at']}")
            if p["body"]:
                lines += [""] + [f"> {_text(line)}" for line in p["body"].splitlines()] + [""]
            lines += _action_lines(p["action"])
            if p["end_reason"]:
                lines.append(f"Ended: {_cell(p['end_reason'])}")
            if p["result"]:
                r = p["result"]
                verdict = "passed" if r["passed"] else f"failed ({REASONS[r['reason']]})"
                lines.append(
                    f"**{verdict}** — turnout {r['voters']} of {r['electorate']} ({r['turnout']}), quorum {r['quorum']},"
                    f" threshold {r['threshold']}"
                )
            if p["tally"]:
                lines += ["", "| option | votes |", "|---|---|"]
                lines += [f"| {_cell(o)} | {n} |" for o, n in p["tally"].items()]
            if p.get("objections"):
                lines += ["", "Objections standing:", ""]
                lines += [f"- {_cell(o['member'])}: {_cell(o['reason'])}" for o in p["objections"]]
            lines.append("")
        if coop["rounds"]:
            lines += ["## Open books", ""]
        for r in coop["rounds"]:
            lines += [f"### Round {r['number']}: {r['amount']} ({r['status']})", "", "| to | amount |", "|---|---|"]
            lines += [f"| fund: {_cell(f['fund'])} | {f['amount']} |" for f in r["funds"]]
            lines += [f"| {_cell(sh['member'])} | {sh['amount']} |" for sh in r["shares"]]
            vows = [v for v in coop["vows"] if v["round"] == r["number"]]
            if vows:
                lines += ["", "Vows (in order; the last of each member stands):", ""]
                lines += [f"- {_cell(v['member'])}: {_cell(v['text'])}" for v in vows]
            lines.append("")
        if coop.get("pay"):
            lines += ["## Pay history", "", "| member | pay | an hour | status | by |", "|---|---|---|---|---|"]
            lines += [f"| {_cell(p['member'])} | {_pay_words(p)} | {p['hourly']} | "
                      f"{p['status'] if p['status'] == 'set' else 'refused (' + _ratio(p) + ')'} | {_cell(p['set_by'])} |"
                      for p in coop["pay"]]
            lines.append("")
    return "\n".join(lines) + "\n"


def _ratio(p: dict) -> str:
    return measured_ratio(Fraction(p["ratio"]))


def _action_lines(action: dict | None) -> list[str]:
    if not action:
        return []
    lines = []
    if "amend" in action:
        lines.append("Would change the charter: " + _cell("; ".join(action.get("said") or [])))
    if "waive" in action:
        lines.append("Would waive the vow of: " + _cell(action["waive"]))
    lines += [f"Would {_cell(key)}: {_cell(value)}" for key, value in action.items()
              if key not in ("amend", "said", "changes", "waive", "round")]
    return lines


FORMATS = {"json": to_json, "csv": to_csv, "md": to_markdown}
