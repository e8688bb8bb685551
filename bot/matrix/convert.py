"""Pure conversions between Matrix events and the core's neutral events, and poll contents."""

from __future__ import annotations

import re
import urllib.parse

from handlers.cards import CardView
from handlers.types import ChatRef, UserRef

PLATFORM = "matrix"
POLL_START = "org.matrix.msc3381.poll.start"
POLL_END = "org.matrix.msc3381.poll.end"
POLL_RESPONSES = ("org.matrix.msc3381.poll.response", "m.poll.response")
TEXT = "org.matrix.msc1767.text"
_ANSWER = re.compile(r"o(\d{1,2})")
# Intentional mentions (Matrix 1.7): an empty m.mentions says the bot mentions no one, so "@room" or
# a member's name in a title, a reason or a display name pings nobody. Every event the bot sends has it.
MENTIONS = "m.mentions"


def chat_ref(room_id: str, *, direct: bool, title: str) -> ChatRef:
    return ChatRef(PLATFORM, room_id, is_direct=direct, title=title)


def user_ref(user_id: str, display_name: str | None) -> UserRef:
    return UserRef(PLATFORM, user_id, display_name or user_id)


def command_text(body: str) -> str:
    """A message's own text, without the quoted fallback a reply carries."""
    lines = body.split("\n")
    if lines and lines[0].startswith("> "):
        while lines and lines[0].startswith(">"):
            lines.pop(0)
        while lines and not lines[0].strip():
            lines.pop(0)
    return "\n".join(lines)


_PILL = re.compile(r'<a href="https://matrix\.to/#/((?:@|%40)[^"/?]+)"[^>]*>(.*?)</a>')


def with_mentions(body: str, formatted: str | None) -> str:
    """Element shows a mention as a pill, whose plain text is only a display name: put the
    Matrix id in its place, so `!admit <pill>` names exactly that person."""
    for user_id, shown in _PILL.findall(formatted or ""):
        shown = re.sub(r"<[^>]+>", "", shown)
        if shown and shown in body:
            body = body.replace(shown, urllib.parse.unquote(user_id), 1)
    return body


def answer_id(option: int) -> str:
    return f"o{option}"


def poll_response(content: dict) -> tuple[str, int | None] | None:
    """(poll event id, option) from a poll response; option None takes the vote back (an empty
    selection). None when the content is not a well-formed response to a poll."""
    relates = content.get("m.relates_to") or {}
    if relates.get("rel_type") != "m.reference" or not isinstance(relates.get("event_id"), str):
        return None
    body = content.get("org.matrix.msc3381.poll.response") or content.get("m.poll.response") or content.get("m.selections")
    answers = body.get("answers") if isinstance(body, dict) else body
    if not isinstance(answers, list):
        return None
    if not answers:
        return relates["event_id"], None
    match = _ANSWER.fullmatch(str(answers[0]))
    return (relates["event_id"], int(match.group(1))) if match else (relates["event_id"], -1)


def poll_start(view: CardView, fallback: str) -> dict:
    """A native poll as Element understands it (MSC3381), with a text fallback."""
    question = view.text.split("\n", 1)[0]  # "Proposal #N: title"
    return {
        POLL_START: {
            "question": {TEXT: question, "body": question},
            "kind": "org.matrix.msc3381.poll.disclosed",
            "max_selections": 1,
            "answers": [{"id": answer_id(i), TEXT: label} for i, label in enumerate(view.options)],
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


def notice(text: str, reply_to: str | None = None) -> dict:
    content = {"msgtype": "m.notice", "body": text, MENTIONS: {}}
    if reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return content


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
