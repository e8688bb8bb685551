"""Pure conversions between Matrix events and the core's neutral events, and poll contents."""

from __future__ import annotations

import html
import re
import struct
import urllib.parse
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

from handlers.cards import CardView
from handlers.parsing import MAX_MESSAGE
from handlers.types import ChatRef, UserRef

PLATFORM = "matrix"
POLL_START = "org.matrix.msc3381.poll.start"
POLL_END = "org.matrix.msc3381.poll.end"
POLL_RESPONSES = ("org.matrix.msc3381.poll.response", "m.poll.response")
TEXT = "org.matrix.msc1767.text"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ANSWER = re.compile(r"o(\d{1,2})(?:r\d{1,20})?")  # an option, and the revision its poll was made for
# Intentional mentions (Matrix 1.7): an empty m.mentions says the bot mentions no one, so "@room" or
# a member's name in a title, a reason or a display name pings nobody. Every event the bot sends has
# it; only a direct answer names someone in it: the person answered.
MENTIONS = "m.mentions"
THREAD = "m.thread"
HTML = "org.matrix.custom.html"  # the only `format` of a formatted body


def chat_ref(room_id: str, *, direct: bool, title: str) -> ChatRef:
    return ChatRef(PLATFORM, room_id, is_direct=direct, title=title)


def user_ref(user_id: str, display_name: str | None) -> UserRef:
    return UserRef(PLATFORM, user_id, display_name or user_id)


def addressed(text: str, names: tuple[str, ...]) -> str:
    """The command in a message that begins by naming the bot (`coopbot: !show 2`; Element's pill,
    read as the bot's id, then ": "): the text after the name. Any other text as it is."""
    for name in names:
        if name and text[:len(name)].casefold() == name.casefold() and text[len(name):len(name) + 1] == ":":
            return text[len(name) + 1:].lstrip()
    return text


def mentioned(content: dict) -> list[str]:
    """The user ids a message says it mentions (`m.mentions.user_ids`, Matrix 1.7)."""
    mentions = content.get(MENTIONS)
    ids = mentions.get("user_ids") if isinstance(mentions, dict) else None
    return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []


def named_by_mention(text: str, names: dict[str, str]) -> str:
    """A command whose whole argument is the shown name of someone the message mentions, with no
    pill to say where it stands (a client that sends no formatted body): the argument becomes that
    person's id, taken from `m.mentions`. `names` maps each mentioned id to the name a client shows
    for it. Nothing else is rewritten, and a name is never looked for inside other text."""
    head, newline, rest = text.partition("\n")
    verb, _, argument = head.strip().partition(" ")
    argument = argument.strip()
    meant = [user_id for user_id, name in names.items() if argument in (name, "@" + name)]
    if len(meant) != 1:
        return text
    return f"{verb} {meant[0]}{newline}{rest}"


def edited(content: dict) -> str | None:
    """The id of the message an edit replaces (`m.replace` with its `m.new_content`), else None."""
    relates = content.get("m.relates_to")
    if (isinstance(relates, dict) and relates.get("rel_type") == "m.replace"
            and isinstance(relates.get("event_id"), str) and isinstance(content.get("m.new_content"), dict)):
        return relates["event_id"]
    return None


def thread_root(content: dict) -> str | None:
    """The root of the thread a message was written in, if it was."""
    relates = content.get("m.relates_to")
    if isinstance(relates, dict) and relates.get("rel_type") == THREAD and isinstance(relates.get("event_id"), str):
        return relates["event_id"]
    return None


def command_text(body: str) -> str:
    """A message's own text, without the quoted fallback a reply carries."""
    lines = body.split("\n")
    if lines and lines[0].startswith("> "):
        while lines and lines[0].startswith(">"):
            lines.pop(0)
        while lines and not lines[0].strip():
            lines.pop(0)
    return "\n".join(lines)


# A formatted body is the text and its markup, a pill some 50 characters of markup around one name:
# four times the longest message the core takes is room for any that people write. A longer one is
# not read for pills at all, and its plain body stands (refused by the core if too long itself).
MAX_FORMATTED = 4 * MAX_MESSAGE
_PILL_PREFIX = "https://matrix.to/#/"
_HTML_SPACE = str.maketrans("\t\n\r\f", "    ")
# Tags Element shows on lines of their own; a paragraph or a heading leaves a blank line after it, as
# the Markdown it was written in did.
_BLOCKS = {"p": 2, "div": 1, "blockquote": 1, "pre": 1, "ul": 1, "ol": 1, "li": 1, "table": 1, "tr": 1,
           "hr": 1, "h1": 2, "h2": 2, "h3": 2, "h4": 2, "h5": 2, "h6": 2, "details": 1, "summary": 1}


def _pill_target(href: str | None) -> str | None:
    """The Matrix id a mention link (`https://matrix.to/#/@sam:example.org?via=...`) names, or None."""
    if not href or not href.startswith(_PILL_PREFIX):
        return None
    target = urllib.parse.unquote(href[len(_PILL_PREFIX):].partition("?")[0].partition("/")[0])
    return target if target.startswith("@") else None


class _Mentions(HTMLParser):
    """One pass over a formatted body: its text as Element shows it, each pill as the Matrix id it
    names, in its own place."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.pills = 0
        self._pill = False  # inside a pill: its shown text is replaced by the id
        self._hidden = 0  # inside <mx-reply>: the quoted message a reply carries
        self._pre = 0  # inside <pre>: white space as written
        self._breaks = 0  # line breaks owed before the next text

    def text(self) -> str:
        return "".join(self.out).strip()

    def _put(self, text: str) -> None:
        if self.out and self._breaks:
            self.out[-1] = self.out[-1].rstrip(" ")
            self.out.append("\n" * self._breaks)
        self._breaks = 0
        self.out.append(text)

    def _at_line_start(self) -> bool:
        return not self.out or self._breaks > 0 or self.out[-1].endswith("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "mx-reply":
            self._hidden += 1
        if self._hidden:
            return
        if tag == "a":
            # A link inside a link closes the first, as browsers read it.
            self._pill = False
            if (target := _pill_target(dict(attrs).get("href"))) is not None:
                self._put(target)
                self._pill, self.pills = True, self.pills + 1
        elif self._pill:
            return
        elif tag == "br":
            self._put("\n")
        elif tag in _BLOCKS:
            self._breaks = max(self._breaks, _BLOCKS[tag])
            self._pre += tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        if tag == "mx-reply":
            self._hidden = max(0, self._hidden - 1)
        elif self._hidden:
            return
        elif tag == "a":
            self._pill = False
        elif tag in _BLOCKS and not self._pill:
            self._breaks = max(self._breaks, _BLOCKS[tag])
            self._pre = max(0, self._pre - (tag == "pre"))

    def handle_data(self, data: str) -> None:
        if self._hidden or self._pill:
            return
        if not self._pre:
            # HTML shows a run of its white space (not a no-break space) as one space, and none at
            # the start of a line.
            spaced = data.translate(_HTML_SPACE)
            words = " ".join(word for word in spaced.split(" ") if word)
            data = (" " if spaced[:1] == " " else "") + words + (" " if words and spaced[-1:] == " " else "")
            if self._at_line_start():
                data = data.lstrip(" ")
        if data:
            self._put(data)


def with_mentions(body: str, formatted: str | None) -> str:
    """Element shows a mention as a pill, whose plain text is only a display name: the text is
    read from the formatted body, with the Matrix id in the pill's place, so `!admit <pill>` names
    exactly that person. Without a pill (or too long to read), the plain body is the text."""
    if not formatted or len(formatted) > MAX_FORMATTED:
        return body
    reader = _Mentions()
    try:
        reader.feed(formatted)
    except AssertionError:
        # Python 3.11's markup base raises on a malformed `<![` declaration: not readable, so plain.
        return body
    # close() is never called: Python 3.11's rescans each unfinished tag or comment to the end
    # (quadratic, CPython gh-135462: 9 s for 32 KB of "<a "). What feed() leaves is such an unfinished
    # construct, which HTML drops at the end of input, or text held back for a character reference.
    rest = reader.rawdata
    if rest and not rest.startswith("<"):
        reader.handle_data(html.unescape(rest))
    return reader.text() if reader.pills else body


def answer_id(option: int, revised_at: datetime | None = None) -> str:
    """`o1`; once its author revised the proposal, `o1r<revision's time>`: Element shows a member's
    last answer as chosen and sends nothing when it is tapped again, so a revision that cleared the
    ballots gives the answers new ids, which no earlier response names."""
    return f"o{option}" if revised_at is None else f"o{option}r{(revised_at - _EPOCH) // timedelta(microseconds=1)}"


def poll_response(content: dict) -> tuple[str, int | None] | None:
    """(poll event id, option) from a poll response; option None takes the vote back (an empty
    selection). None when the content is not a well-formed response to a poll."""
    parsed = poll_answers(content)
    if parsed is None:
        return None
    poll_id, answers = parsed
    return poll_id, answers[0] if answers else None


def poll_answers(content: dict) -> tuple[str, tuple[int, ...]] | None:
    """(poll event id, every option answered, -1 for an answer that is not ours) from a poll
    response: an approval poll's answers are the options approved; none takes the vote back. None
    when the content is not a well-formed response to a poll."""
    relates = content.get("m.relates_to") or {}
    if relates.get("rel_type") != "m.reference" or not isinstance(relates.get("event_id"), str):
        return None
    block = next((content[key] for key in POLL_RESPONSES if isinstance(content.get(key), dict)), None)
    # matrix-js-sdk's PollResponseEvent.serialize() writes an emptied (spoiled) response with
    # `answers: undefined`, which JSON leaves out: a response block without answers takes the vote back.
    answers = block.get("answers", []) if block is not None else content.get("m.selections")
    if not isinstance(answers, list):
        return None
    chosen = []
    for answer in answers:
        match = _ANSWER.fullmatch(str(answer))
        chosen.append(int(match.group(1)) if match else -1)
    return relates["event_id"], tuple(chosen)


def approved(answers: tuple[int, ...]) -> tuple[int, ...] | None:
    """An approval poll's answers as the set approved: ascending, an answer given twice once (a
    client that repeats one approves it, as every client shows it); none takes the vote back. An
    answer that is not ours (-1) stays, for the core to refuse."""
    return tuple(sorted(set(answers))) or None


def poll_start(view: CardView, fallback: str, question: str) -> dict:
    """A native poll as Element understands it (MSC3381), with a text fallback."""
    return {
        POLL_START: {
            "question": {TEXT: question, "body": question},
            "kind": "org.matrix.msc3381.poll.disclosed",
            # An approval poll takes every option a member approves; any other poll, one.
            "max_selections": len(view.options) if view.method == "approval" else 1,
            "answers": [{"id": answer_id(i, view.revised_at), TEXT: label} for i, label in enumerate(view.options)],
        },
        TEXT: fallback,
        "body": fallback,
        MENTIONS: {},
    }


def poll_end(poll_event_id: str, text: str) -> dict:
    return {
        "m.relates_to": {"rel_type": "m.reference", "event_id": poll_event_id},
        POLL_END: {},
        TEXT: text,
        "body": text,
        MENTIONS: {},
    }


def notice(text: str) -> dict:
    return {"msgtype": "m.notice", "body": text, MENTIONS: {}}


def answer(text: str, reply_to: str, person: str, thread: str | None = None) -> dict:
    """A direct answer to one person: a reply to what they sent (in its thread, if it was written in
    one) that mentions them. An m.text, not a notice: Synapse's push rules never notify for a notice
    (.m.rule.suppress_notices comes before .m.rule.is_user_mention), and the answer should reach
    whoever asked, on their phone too."""
    relates: dict = {"m.in_reply_to": {"event_id": reply_to}}
    if thread:
        # As matrix-js-sdk writes a message in a thread: the reply is the fallback for clients
        # without threads, not a reply of its own.
        relates = {"rel_type": THREAD, "event_id": thread, "is_falling_back": True, **relates}
    return {"msgtype": "m.text", "body": text, MENTIONS: {"user_ids": [person]}, "m.relates_to": relates}


def replacement(event_id: str, text: str) -> dict:
    """An edit (m.replace) of a card or a room's notice, so its tally or list stays current. Both
    contents mention no one: clients notify on the outer one, and show (and re-evaluate) the new one."""
    return {
        "msgtype": "m.notice",
        "body": "* " + text,
        MENTIONS: {},
        "m.new_content": {"msgtype": "m.notice", "body": text, MENTIONS: {}},
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }


def image(name: str, url: str, png: bytes, keys: dict | None = None, thread: str | None = None) -> dict:
    """An m.image of a PNG uploaded as `url` (mxc://); `keys`: its decryption info, if it was
    uploaded encrypted (for an encrypted room), which then goes in `file` instead of `url`."""
    width, height = struct.unpack(">II", png[16:24])  # the PNG's IHDR: no image library needed here
    content: dict = {"msgtype": "m.image", "body": name,
                     "info": {"mimetype": "image/png", "size": len(png), "w": width, "h": height}}
    return _media(content, url, keys, thread)


def file(name: str, mime: str, url: str, data: bytes, keys: dict | None = None, thread: str | None = None) -> dict:
    """An m.file (the calendar's .ics) uploaded as `url`, in the clear or, with `keys`, encrypted."""
    content: dict = {"msgtype": "m.file", "body": name, "filename": name, "info": {"mimetype": mime, "size": len(data)}}
    return _media(content, url, keys, thread)


def _media(content: dict, url: str, keys: dict | None, thread: str | None) -> dict:
    if keys is None:
        content["url"] = url
    else:
        content["file"] = {"url": url, **{k: keys[k] for k in ("key", "iv", "hashes", "v")}}
    if thread:
        content["m.relates_to"] = {"rel_type": THREAD, "event_id": thread}
    return content
