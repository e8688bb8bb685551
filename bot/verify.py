"""`coopbot verify <export.json>`: recompute every leaf hash and head of the minutes in an export,
check every posted and witnessed head, the tallies and the draws; say what does not hold."""

from __future__ import annotations

import hashlib
import json

from handlers import draws
from storage import merkle
from storage.minutes import objections_of


def problems(data: dict) -> list[str]:
    """What does not hold in an export, one sentence each, naming the co-op; empty if all holds."""
    found = []
    for coop in data.get("coops", []):
        name = coop.get("name", "?")
        minutes = coop.get("minutes")
        if minutes is None:
            found.append(f"{name}: the export has no minutes")
            continue
        for check in (_minutes, _tallies, _draws, _drawn_in_minutes):
            try:
                found += [f"{name}: {what}" for what in check(minutes if check is _minutes else coop)]
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
                # A malformed export is a finding, never a traceback.
                found.append(f"{name}: the export is malformed ({type(exc).__name__}: {exc})")
    return found


def _drawn_in_minutes(coop: dict) -> list[str]:
    """Every draw replayed from its own two records in the minutes (not from the export's draws
    section, which only has to agree with them): the secret revealed is the one committed to at
    the announcement, and the announced pool with the shuffles seats who was seated."""
    found, announced = [], {}
    exported = {d["number"]: d for d in coop.get("draws", [])}
    for leaf in coop["minutes"].get("leaves", []):
        record = json.loads(leaf["record"])
        data = record.get("data", {})
        if record.get("kind") == "draw_announced":
            announced[data.get("number")] = data
        elif record.get("kind") == "draw_drawn":
            number = data.get("number")
            what = (draws.replay_problem(announced[number], data) if number in announced
                    else "drawn without an announcement in the minutes")
            if what:
                found.append(f"draw D{number}: {what}")
            elif number in exported and exported[number].get("result") != [s["name"] for s in data["seated"]]:
                found.append(f"draw D{number}: the export's result is not the one in the minutes")
    return found


def _minutes(minutes: dict) -> list[str]:
    found, hashes = [], []
    for index, leaf in enumerate(minutes.get("leaves", [])):
        if leaf.get("seq") != index:
            found.append(f"leaf {index} is numbered {leaf.get('seq')}")
        try:
            canonical = merkle.canonical(json.loads(leaf["record"])).decode("utf-8") == leaf["record"]
        except ValueError:
            canonical = False
        if not canonical:
            found.append(f"leaf {index}'s record is not canonical JSON")
        digest = hashlib.sha256(b"\x00" + leaf["record"].encode("utf-8")).digest()
        if digest.hex() != leaf.get("leaf"):
            found.append(f"leaf {index}'s record does not hash to its leaf hash (size {index + 1})")
        hashes.append(digest)
    head = merkle.root(hashes).hex()
    if minutes.get("size") != len(hashes) or minutes.get("head") != head:
        found.append(f"the head of size {minutes.get('size')} is not the root of the {len(hashes)} leaves")
    for how in ("posted", "witnessed"):
        for h in minutes.get(how, []):
            if h["size"] > len(hashes) or merkle.root(hashes[:h["size"]]).hex() != h["root"]:
                found.append(f"the {how} head {h['root'][:merkle.SHORT_HEX]} of size {h['size']} does not match the leaves")
    return found


def _tallies(coop: dict) -> list[str]:
    """Each closed proposal's tally in its minutes against its exported result, its recount from
    the event log and (open ballots) its votes."""
    found = []
    proposals = {p["number"]: p for p in coop.get("proposals", [])}
    for leaf in coop["minutes"].get("leaves", []):
        try:
            record = json.loads(leaf["record"])
        except ValueError:
            continue
        if record.get("kind") != "proposal_closed":
            continue
        data = record.get("data", {})
        number, counts = data.get("number"), (data.get("result") or {}).get("counts")
        p = proposals.get(number)
        if p is None or p.get("result") is None:
            found.append(f"proposal {number} is closed in the minutes but has no result in the export")
            continue
        logged, shown = data.get("result") or {}, p["result"]
        if ([shown["counts"].get(o) for o in p["options"]] != counts
                or [shown.get(k) for k in ("passed", "voters", "electorate")]
                != [logged.get(k) for k in ("passed", "voters", "electorate")]):
            found.append(f"proposal {number}'s result differs from its tally in the minutes")
        if "recount" in p and p["recount"] != counts:
            found.append(f"a recount of proposal {number} from the event log differs from its tally in the minutes")
        if "recount_objections" in p and p["recount_objections"] != objections_of(logged):
            found.append(f"a recount of proposal {number}'s objections from the event log differs from the minutes")
        if p.get("votes") is not None:
            # An approval ballot counts for each option it approves; any other, its option.
            by_votes = [sum(1 for v in p["votes"] if o in v.get("approved", [v["option"]])) for o in p["options"]]
            if by_votes != counts:
                found.append(f"proposal {number}'s votes do not add up to its tally in the minutes")
        if shown.get("method") == "ranked":
            found += _rounds(p, number)
    return found


def _rounds(p: dict, number) -> list[str]:
    """A ranked result counted again from the rankings the export holds (an open ballot's votes;
    a secret ballot's rankings are not in it: beside the proxies members know of, a ranking cast
    twice, the holder's and its copy, would be the holder's), its seats and its tie order: the same
    rounds, the same options elected."""
    from handlers.ranking import count_ranked  # pyrankvote, only for a co-op that ranks
    from handlers.tally import DecisionRule
    options, shown = p["options"], p["result"]
    if p.get("votes") is None:
        return []  # a secret ballot: nothing to count again from
    given = [v.get("ranking", [v["option"]]) for v in p["votes"]]
    try:
        index = {label: i for i, label in enumerate(options)}
        rankings = sorted([index[label] for label in ranking] for ranking in given)
        again = count_ranked(options, rankings, shown["seats"] or 1, [index[o] for o in shown["tie_order"]],
                             shown["electorate"], DecisionRule.from_json(p["rule"]))
    except (KeyError, TypeError, ValueError, RuntimeError):
        return [f"proposal {number}'s rounds cannot be counted again from its rankings"]
    rounds = [{"votes": dict(zip(options, r["votes"])), "status": dict(zip(options, r["status"])),
               "exhausted": r["exhausted"]} for r in again["rounds"]]
    if rounds != shown.get("rounds") or [options[i] for i in again["elected"]] != shown.get("elected"):
        return [f"proposal {number}'s rounds, counted again from its rankings, differ from its result"]
    return []


def _draws(coop: dict) -> list[str]:
    """Replay every draw: {"number", "secret", "contributions", "pool", "seats", "result"} (the draws
    feature's export; "commitment" and "organisations" checked when present)."""
    found = []
    for d in coop.get("draws", []):
        label = f"draw D{d.get('number')}"
        if d.get("status") != "drawn" and d.get("secret") is None:
            continue  # not revealed yet: nothing to replay
        if d.get("secret") is None or "commitment" not in d:
            found.append(f"{label}: drawn, but its secret or its commitment is missing")
            continue
        if draws.commitment(bytes.fromhex(d["secret"])) != d["commitment"]:
            found.append(f"{label}: the secret is not the one committed to")
        organisations = d.get("organisations")
        index = range(len(d["pool"]))
        seated = draws.picks(draws.key(d["secret"], d.get("contributions", [])), list(index), d["seats"],
                             organisation=(lambda i: organisations[i]) if organisations else None).seated
        if [d["pool"][i] for i in seated] != list(d.get("result", [])):
            found.append(f"{label}: a replay seats {', '.join(d['pool'][i] for i in seated)}, not what was announced")
    return found


def main(path: str) -> int:
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError) as exc:
        print(f"coopbot: cannot read {path}: {exc}")
        return 2
    found = problems(data)
    print("\n".join(found) if found else "ok")
    return 1 if found else 0
