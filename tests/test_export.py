"""What `coopbot export` writes: member-supplied text that a spreadsheet or a Markdown renderer
cannot turn into formulas, links or markup, and each proposal's action, so that the charter's
history can be rebuilt from an export."""

from __future__ import annotations

import csv
import io
import json

from bot import export
from tests.conftest import Chat, make_coop

FORMULA = '=HYPERLINK("http://evil","click")'
MARKUP = "<b>bold</b> **loud** [link](http://evil) `code` _it_ ~~gone~~ $x$ &amp; ![img](http://evil/i.png)"
# Everything a spreadsheet reads as the start of a formula (OWASP CSV injection).
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


async def hostile_coop(chat: Chat) -> dict:
    """A co-op whose members wrote formulas and markup everywhere they could: their names (one of
    them only pending), a title, a body, options, a closing reason and a vow."""
    names = await make_coop(chat, 2)
    await chat.say(FORMULA, "/join")  # stays pending: pending names are exported too
    await chat.say("+plus", "/join")
    await chat.say("alice", "/admit +plus")
    await chat.say("alice", f"/propose {FORMULA} {MARKUP}\n  options: =1+1 | @SUM(A1) | -2\n"
                            f"  # a heading\n  - a list {MARKUP}")
    for who in names + ["+plus"]:
        await chat.say(who, "/vote 1 =1+1")
    await chat.say("alice", f"/close 1 @everyone {MARKUP}")
    await chat.say("alice", "/surplus 100")
    await chat.say("+plus", f"/vow -1+1 {MARKUP}")
    return await export.collect(chat.gov.stores)


async def test_no_csv_cell_starts_a_formula(chat):
    """Every cell holding member-supplied text that starts with = + - @ tab or CR gets a leading
    single quote (and nothing else of it changes); the file still parses to the same rows."""
    data = await hostile_coop(chat)
    text = export.to_csv(data)
    rows = list(csv.reader(io.StringIO(text)))
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell.startswith(TRIGGERS)], text
    assert "'" + FORMULA in cells  # the pending member's name, and the title's start
    assert "'+plus" in cells
    assert any(cell.startswith("'" + FORMULA + " <b>") for cell in cells)
    assert {"'=1+1", "'@SUM(A1)", "'-2"} <= set(cells)  # options, in the tally and vote rows
    assert any(cell.startswith("'-1+1 ") for cell in cells)  # the vow


def test_neutralising_is_for_text_only():
    """Numbers and plain text are left as they are; a neutralised cell keeps its whole text."""
    assert export.csv_cell(-3) == -3 and export.csv_cell(None) is None
    assert export.csv_cell("Buy a van") == "Buy a van"
    assert export.csv_cell("'quoted") == "'quoted"
    for trigger in TRIGGERS:
        assert export.csv_cell(trigger + "x") == "'" + trigger + "x"


async def test_markdown_shows_member_text_literally(chat):
    """Titles, bodies, names, vows, reasons and options come out escaped: no HTML tag, emphasis,
    link, image, code or heading survives, yet every word is still there."""
    data = await hostile_coop(chat)
    md = export.to_markdown(data)
    for raw in ("<b>", "</b>", "**loud**", "[link](", "`code`", "_it_", "~~gone~~", "$x$", "![img]"):
        assert raw not in md, raw
    assert md.count("&lt;b&gt;bold&lt;/b&gt; \\*\\*loud\\*\\* \\[link\\](http://evil)") >= 4  # title, body, reason, vow
    assert "&amp;amp;" in md
    assert not [line for line in md.splitlines() if "a heading" in line and not line.lstrip("> ").startswith("\\#")]
    assert "\\# a heading" in md and "\\- a list" in md  # the body, line by line
    assert "Ended: @everyone &lt;b&gt;bold" in md  # the closing reason
    assert "| \\=HYPERLINK(\"http://evil\",\"click\") | member | pending |" in md
    assert "| \\=1+1 | 4 |" in md and "| \\-2 | 0 |" in md  # options in the tally


async def test_markdown_keeps_plain_text_readable(chat):
    """Ordinary words, numbers and sentences are not littered with backslashes."""
    await make_coop(chat, 1)
    await chat.say("alice", "/propose Buy a delivery van, for 300 a month?\n  We spend it on couriers.")
    md = export.to_markdown(await export.collect(chat.gov.stores))
    assert "### #1 Buy a delivery van, for 300 a month?" in md
    assert "We spend it on couriers." in md


async def charter_history(chat: Chat) -> dict:
    names = await make_coop(chat, 3)
    await chat.say("alice", "/propose Berlin time\n  amend: timezone = Europe/Berlin")
    for who in names:
        await chat.say(who, "/vote 1 For")
    await chat.say("alice", "/close 1")
    assert "Result of #1 Berlin time: passed." in "\n".join(chat.announced)
    await chat.say("alice", "/surplus 100")
    await chat.say("alice", "/propose Waive\n  waive: m1")
    for who in names:
        await chat.say(who, "/vote 2 For")
    await chat.say("alice", "/close 2")
    assert "Result of #2 Waive: passed." in "\n".join(chat.announced)
    await chat.say("alice", "/propose Just lunch")
    return await export.collect(chat.gov.stores)


async def test_json_carries_each_proposals_action(chat):
    """An amendment's changed charter leaves and the words it was said in; a waiver by the member's
    name; nothing for a proposal that changes nothing."""
    data = json.loads(export.to_json(await charter_history(chat)))
    amendment, waiver, lunch = data["coops"][0]["proposals"]
    assert amendment["action"] == {"amend": {"timezone": "Europe/Berlin"}, "said": ["timezone = Europe/Berlin"],
                                   "changes": [["timezone", "UTC", "Europe/Berlin"]]}
    assert waiver["action"] == {"waive": "m1", "round": 1}
    assert lunch["action"] is None
    # The passed amendment is what the exported charter says now.
    assert data["coops"][0]["charter"]["timezone"] == "Europe/Berlin"


async def test_csv_and_markdown_carry_each_proposals_action(chat):
    data = await charter_history(chat)
    rows = list(csv.DictReader(io.StringIO(export.to_csv(data))))
    actions = {row["number"]: row["action"] for row in rows if row["section"] == "proposal"}
    assert actions == {"1": "amend: timezone = Europe/Berlin", "2": "waive: m1", "3": ""}
    md = export.to_markdown(data)
    assert "Would change the charter: timezone = Europe/Berlin" in md
    assert "Would waive the vow of: m1" in md
