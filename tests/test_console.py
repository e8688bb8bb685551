"""End to end through the real `coopbot console` and `coopbot export` processes."""

import codecs
import json
import os
import pty
import re
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

COOPBOT = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parent.parent


def env_for(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPBOT_")}
    env["COOPBOT_DATA_DIR"] = str(tmp_path / "data")
    env["PYTHONPATH"] = str(ROOT)
    return env


def console(tmp_path: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        COOPBOT + ["console", *args], input=script, capture_output=True, text=True, cwd=tmp_path,
        env=env_for(tmp_path), timeout=120,
    )


def export(tmp_path: Path, fmt: str = "json") -> str:
    done = subprocess.run(
        COOPBOT + ["export", "--format", fmt], capture_output=True, text=True, cwd=tmp_path,
        env=env_for(tmp_path), timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


SESSION = """\
/setup Red Bakery
/admit bob
/admit carol
/admit dave
/admit erin
bob: /propose Buy a delivery van
  closes: 48h
  kind: ordinary
  We spend 300 a month on couriers.
/vote 1 For
bob: /vote 1 Against
carol: /vote 1 For
dave: /vote 1 Abstain
bob: /vote 1 For
mallory: /vote 1 Against
/close 1 everyone has spoken
"""


def test_scripted_session_prints_the_result_and_export_agrees(tmp_path):
    """Setup, four members, a proposal, votes, a changed vote, a non-member refused and a close:
    the result shows counts, turnout, quorum and threshold, and the JSON export says the same."""
    done = console(tmp_path, SESSION)
    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in out + done.stderr
    assert "Red Bakery is set up" in out
    assert "The register now has 5 members." in out
    assert "Proposal #1: Buy a delivery van" in out and "Closes" in out
    assert "Changed: For on #1 (was Against)." in out
    assert "mallory> /vote 1 Against\ncoopbot: Only members of Red Bakery can do that" in out
    assert "coopbot: Result of #1 Buy a delivery van: passed." in out
    assert "Votes: For 3 · Against 0 · Abstain 1." in out
    assert "Turnout: 4 of 5 (80%); quorum 50% met." in out
    assert "Support: 100% of For + Against; threshold more than 1/2." in out

    data = json.loads(export(tmp_path))
    (coop,) = data["coops"]
    assert [m["name"] for m in coop["members"]] == ["you", "bob", "carol", "dave", "erin"]
    (p,) = coop["proposals"]
    r = p["result"]
    assert (p["number"], p["status"], p["end_reason"]) == (1, "closed", "everyone has spoken")
    assert r["counts"] == {"For": 3, "Against": 0, "Abstain": 1}
    assert (r["passed"], r["voters"], r["electorate"], r["turnout"]) == (True, 4, 5, "80%")
    assert (r["quorum"], r["threshold"]) == ("50%", "more than 1/2")
    assert sorted((v["member"], v["option"]) for v in p["votes"]) == [
        ("bob", "For"), ("carol", "For"), ("dave", "Abstain"), ("you", "For")
    ]


def test_export_formats_and_secret_ballots(tmp_path):
    """CSV and Markdown carry the same result; a secret ballot exports tallies, never who voted what."""
    console(tmp_path, SESSION + "/propose Secret matter\n  ballot: secret\ncarol: /vote 2 Against\n/close 2\n")
    data = json.loads(export(tmp_path))
    secret = data["coops"][0]["proposals"][1]
    assert secret["ballot"] == "secret" and "votes" not in secret
    assert secret["result"]["counts"]["Against"] == 1
    csv = export(tmp_path, "csv")
    assert "Red Bakery,proposal,1,Buy a delivery van,bob,ordinary,closed,open,4,passed; turnout 4/5 (80%)" in csv
    assert "Red Bakery,vote,2," not in csv
    md = export(tmp_path, "md")
    assert "# Red Bakery" in md and "**passed** — turnout 4 of 5 (80%), quorum 50%, threshold more than 1/2" in md


HOSTILE = [
    "",
    "   ",
    "/",
    "!",
    "/propose",
    "/propose " + "x" * 10_000,
    "/vote",
    "/vote 1",
    "/vote 999 For",
    "/vote #-1 For",
    "/vote 1 \x00\x1b[31mred",
    "/close",
    "/close abc",
    "/withdraw 1",
    "/admit",
    "/remove nobody-at-all",
    "/setup Another",
    "/propose Bad\n  closes: yesterday",
    "/propose Bad\n  closes: 1999-01-01 00:00",
    "/propose Bad\n  options: only one",
    "/propose Bad\n  kind: tyrannical",
    "/propose Bad\n  ballot: invisible",
    "/propose Bad\n  clsoes: 4h",
    "/help frobnicate",
    "/DROP TABLE proposal",
    "/vote 1 '; DROP TABLE ballot; --",
    "/show 1 extra words",
    "/members\n  extra: line",
    "\u202e/vote 1 For",
    "/" + "v" * 40,
]


def test_no_input_line_prints_a_traceback_or_writes_half(tmp_path):
    """Hostile lines get answers, never a traceback, and change nothing that is stored."""
    console(tmp_path, SESSION)
    before = export(tmp_path)
    script = "".join(line.replace("\n", "\n") + "\n" for line in HOSTILE)
    done = console(tmp_path, script, "--as", "bob")
    assert done.returncode == 0
    assert "Traceback" not in done.stdout + done.stderr
    assert "went wrong" not in done.stdout
    assert done.stdout.count("Usage:") >= 10
    assert export(tmp_path) == before


def test_as_and_room(tmp_path):
    """`--as` names the default speaker and `--room` the room; rooms are separate co-ops."""
    done = console(tmp_path, "/setup Kitchen\n/whoami\n", "--as", "rosa", "--room", "kitchen")
    assert "You are rosa, a steward of Kitchen." in done.stdout
    done = console(tmp_path, "/whoami\n", "--room", "garden")
    assert "This room has no co-op yet" in done.stdout


def test_a_blank_line_inside_a_scripted_body_keeps_the_rest(tmp_path):
    """In a script, a blank line between paragraphs of a body is part of the body, and the lines
    after it still belong to the command; the indentation that marks them as continuing is not."""
    done = console(tmp_path, "/setup Red Bakery\n/propose Buy a van\n  kind: strategic\n  First paragraph.\n\n"
                             "  Second paragraph,\n    indented more.\n\n/whoami\n")
    assert "Traceback" not in done.stdout + done.stderr
    (p,) = json.loads(export(tmp_path))["coops"][0]["proposals"]
    assert p["kind"] == "strategic"
    assert p["body"] == "First paragraph.\n\nSecond paragraph,\n  indented more."


def test_a_speaker_with_a_non_ascii_name_gets_a_reply(tmp_path):
    """`héctor:` speaks as héctor, whether admitted (a member) or not yet (asking to join)."""
    done = console(tmp_path, "/setup Red Bakery\n/admit héctor\nhéctor: /whoami\nzoë: /join\n/members\n")
    assert "You are héctor, a member of Red Bakery." in done.stdout
    assert "héctor> /whoami" in done.stdout and "zoë> /join" in done.stdout
    assert "zoë" in done.stdout.split("you> /members", 1)[1]


def test_a_speaker_named_in_another_case_speaks_as_the_member(tmp_path):
    """`Bob:` speaks as the admitted `bob` (and `HÉCTOR:` as `héctor`): their votes count as theirs."""
    done = console(tmp_path, "/setup Red Bakery\n/admit bob\n/admit héctor\nBob: /whoami\n/propose Van\n"
                             "Bob: /vote 1 Against\nHÉCTOR: /vote 1 For\n")
    assert "You are bob, a member of Red Bakery." in done.stdout
    assert "bob> /whoami" in done.stdout
    (p,) = json.loads(export(tmp_path))["coops"][0]["proposals"]
    assert sorted((v["member"], v["option"]) for v in p["votes"]) == [("bob", "Against"), ("héctor", "For")]
    assert p["author"] == "you"


_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[=>]|\r")
PROMPT, MORE = "\n> ", "\n... "  # the console's prompts, as they show at the start of a line


class Terminal:
    """`coopbot console` on a pseudo-terminal, typed at as a person does: a line, then a look at
    the screen until what should show does (`expect`), escapes and carriage returns left out."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(COOPBOT + ["console", *args], stdin=slave, stdout=slave, stderr=slave,
                                     cwd=tmp_path, env={**env_for(tmp_path), "TERM": "dumb"})
        os.close(slave)
        self.decode = codecs.getincrementaldecoder("utf-8")("replace").decode
        self.screen = ""
        self.seen = 0  # how far `expect` has read

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        try:
            chunk = os.read(self.master, 4096) if ready else b""
        except OSError:  # EIO: the console has exited
            return False
        self.screen += _ESCAPES.sub("", self.decode(chunk))
        return not ready or bool(chunk)

    def expect(self, text: str, timeout: float = 20) -> str:
        """What showed after the last expected text, up to and including `text`."""
        deadline = time.monotonic() + timeout
        while (at := self.screen.find(text, self.seen)) < 0:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.5)):
                assert text in self.screen[self.seen:], (
                    f"{text!r} did not show; after the last expected text the screen shows {self.screen[self.seen:]!r}")
        shown, self.seen = self.screen[self.seen:at + len(text)], at + len(text)
        return shown

    def quit(self) -> int:
        os.write(self.master, b"\x04")  # Ctrl-D on an empty line
        deadline = time.monotonic() + 30
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        return self.proc.wait(timeout=1)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


@pytest.fixture
def terminal(tmp_path):
    term = Terminal(tmp_path)
    try:
        term.expect(PROMPT)
        yield term
    finally:
        term.close()


def test_typed_a_command_stays_open_through_a_pause(terminal, tmp_path):
    """At a terminal a command that takes more lines waits for them however slowly they come: an
    indented line typed after a pause (longer than the 0.4 s after which the console once sent)
    still belongs to it, and it goes on an empty line."""
    terminal.type("/setup Red Bakery")
    terminal.expect("Red Bakery is set up")
    terminal.expect(PROMPT)
    terminal.type("/propose Buy a van")
    terminal.expect(MORE)
    time.sleep(0.6)
    terminal.type("  kind: strategic")
    terminal.expect(MORE)
    time.sleep(0.6)
    terminal.type("")
    terminal.expect(MORE)
    terminal.type("")
    assert "strategic" in terminal.expect("Proposal #1: Buy a van\n  by you · strategic")
    terminal.expect(PROMPT)
    assert terminal.quit() == 0
    (p,) = json.loads(export(tmp_path))["coops"][0]["proposals"]
    assert p["kind"] == "strategic"


def test_typed_a_blank_line_inside_a_body_keeps_the_rest(terminal, tmp_path):
    """At a terminal one empty line inside a body is a paragraph break, kept; the lines after it
    still belong to the command; two empty lines send it."""
    terminal.type("/setup Red Bakery")
    terminal.expect(PROMPT)
    for line in ("/propose Buy a van", "  First paragraph.", "", "  Second paragraph.", ""):
        terminal.type(line)
        terminal.expect(MORE)
    terminal.type("")
    terminal.expect("First paragraph.\n\n  Second paragraph.")
    terminal.expect(PROMPT)
    assert terminal.quit() == 0
    (p,) = json.loads(export(tmp_path))["coops"][0]["proposals"]
    assert p["body"] == "First paragraph.\n\nSecond paragraph."


def test_typed_the_prompt_shows_whether_a_command_is_open(terminal, tmp_path):
    """`> ` asks for a new message, `... ` for more of an open one. A command that takes no more
    lines goes at once; one that may (propose) stays open until an empty line or the next
    unindented line; text that is no command is answered with a hint, not silence."""
    terminal.type("/setup Red Bakery")
    terminal.expect(PROMPT)
    terminal.type("/members")  # takes no lines (`whoami` takes `language:`)
    assert "Register of Red Bakery (1 member):" in terminal.expect(PROMPT)
    terminal.type("/propose Tea")
    assert "coopbot" not in terminal.expect(MORE)
    terminal.type("")
    assert "Proposal #1: Tea" in terminal.expect(PROMPT)
    terminal.type("/propose Coffee")
    terminal.expect(MORE)
    terminal.type("  Beans from the co-op next door.")
    terminal.expect(MORE)
    terminal.type("/members")  # the next unindented line sends the open command, then goes itself
    shown = terminal.expect(PROMPT)
    assert shown.index("Proposal #2: Coffee") < shown.index("Register of Red Bakery")
    terminal.type("  an indented line with nothing open")
    assert "only reads commands" in terminal.expect(PROMPT)
    assert terminal.quit() == 0
    assert [p["title"] for p in json.loads(export(tmp_path))["coops"][0]["proposals"]] == ["Tea", "Coffee"]


def test_db_upgrade(tmp_path):
    """`coopbot db upgrade` creates the database and says it is up to date."""
    done = subprocess.run(COOPBOT + ["db", "upgrade"], capture_output=True, text=True, cwd=tmp_path,
                          env=env_for(tmp_path), timeout=60)
    assert done.returncode == 0 and "up to date" in done.stdout
    assert (tmp_path / "data" / "coopbot.db").is_file()


def test_a_proposal_closing_on_time_is_announced_while_the_console_runs(tmp_path):
    """The result of a proposal that reaches its closing time is printed without any input."""
    proc = subprocess.Popen(
        COOPBOT + ["console"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=tmp_path, env=env_for(tmp_path),
    )
    try:
        proc.stdin.write("/setup Quick\n/propose Lunch now\n  closes: 30s\n/vote 1 For\n")
        proc.stdin.flush()
        deadline = time.monotonic() + 90
        seen = ""
        while "Result of #1" not in seen and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        assert "Result of #1 Lunch now: passed." in seen
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert proc.returncode == 0


def modes(data: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in [data, *data.iterdir()]}


def test_the_data_dir_and_its_files_are_private(tmp_path):
    """Run with the usual umask (022): the data dir is 0700 and the database, its WAL and shared
    memory, the lock file and the console log are 0600, looked at while the console runs."""
    old = os.umask(0o022)
    try:
        proc = subprocess.Popen(
            COOPBOT + ["console"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=tmp_path, env=env_for(tmp_path),
        )
    finally:
        os.umask(old)
    data = tmp_path / "data"
    try:
        proc.stdin.write("/setup Quiet\n/propose Lunch\n")
        proc.stdin.flush()
        seen = ""
        deadline = time.monotonic() + 60
        while "Proposal #1" not in seen and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        found = modes(data)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert {"coopbot.db", "coopbot.db-wal", "coopbot.db-shm", "coopbot.lock", "console.log"} <= set(found), found
    assert found == {"data": 0o700, **{name: 0o600 for name in found if name != "data"}}


def test_a_data_dir_made_before_is_made_private(tmp_path):
    """A data dir left world-readable (by an older coopbot, or by hand) is closed at the next start,
    by every command: `db upgrade`, `export` and `console`."""
    data = tmp_path / "data"
    for command in (["db", "upgrade"], ["export"], ["console"]):
        data.mkdir(mode=0o755, exist_ok=True)
        os.chmod(data, 0o755)
        old = os.umask(0o022)
        try:
            done = subprocess.run(COOPBOT + command, input="", capture_output=True, text=True, cwd=tmp_path,
                                  env=env_for(tmp_path), timeout=60)
        finally:
            os.umask(old)
        assert done.returncode == 0, done.stderr
        assert modes(data)["data"] == 0o700, command
        assert modes(data)["coopbot.db"] == 0o600, command


COMMANDS = (["console"], ["run"], ["export"], ["db", "upgrade"])


@pytest.mark.parametrize(("setting", "value"), [
    ("COOPBOT_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/x"),  # nothing listens on port 1
    ("COOPBOT_DATA_DIR", "/proc/foo"),  # cannot be made
])
def test_an_unreachable_database_or_unusable_data_dir_is_one_line(tmp_path, setting, value):
    """Every command stops with one line on stderr naming the setting and the cause, not a traceback."""
    env = env_for(tmp_path)
    env[setting] = value
    env["COOPBOT_TELEGRAM_TOKEN"] = "123456:not-used-the-database-fails-first"  # `run` needs a platform
    for command in COMMANDS:
        done = subprocess.run(COOPBOT + command, input="", capture_output=True, text=True, cwd=tmp_path,
                              env=env, timeout=60)
        lines = done.stderr.strip().splitlines()
        assert done.returncode != 0, (command, done.stderr)
        assert len(lines) == 1 and setting in lines[0], (command, done.stderr)
