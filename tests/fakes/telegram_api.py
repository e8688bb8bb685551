"""A local fake of the Telegram Bot API HTTP server, for tests.

It listens on 127.0.0.1 (a free port) and answers the Bot API's JSON the way api.telegram.org
does, so the real python-telegram-bot client (and so the real adapter) can be driven end to end:

    async with FakeBotAPI() as fake:
        bot = telegram.Bot(fake.token, base_url=fake.url + "/bot")
        fake.command(-100, 7, "/propose Buy a van")          # a member types a command
        ...                                                  # the adapter polls and answers
        await fake.wait_for(lambda f: f.calls_to("sendMessage"))
        fake.assert_clean()

What it models, beyond the happy path:

- getUpdates exactly like Telegram: updates with update_id < offset are confirmed and gone for
  good; unconfirmed ones are redelivered, oldest first, at most `limit`; `timeout` long-polls and
  wakes as soon as an update is pushed; a negative offset keeps only the last -offset updates; a
  second concurrent getUpdates terminates the first with 409 Conflict; while a webhook is set,
  getUpdates answers 409 Conflict; `allowed_updates` persists between calls, and by default
  chat_member, message_reaction and message_reaction_count updates are not delivered.
- Messages: per-chat message ids shared by the users' and the bot's messages, `parse_mode=HTML`
  parsed (and refused) like Telegram (tags become entities; an unescaped `<` is an error),
  MarkdownV2 checked for unescaped reserved characters (best effort), text trimmed, empty and
  over-long (> 4096 UTF-16 units) texts refused, bot_command and mention entities detected,
  inline keyboards validated (callback_data 1-64 bytes), only inline keyboards echoed back in the
  Message, editMessageText without reply_markup removes the keyboard (as on Telegram), "message
  is not modified", replies to unknown messages refused unless allow_sending_without_reply.
- Forum topics: a message_thread_id is accepted only for a topic of a forum supergroup that a
  message pushed in (is_topic_message) showed; any other (a chain of replies, which Telegram also
  numbers as a thread, or a made-up id) is refused "message thread not found", as Telegram does.
  A message sent into a topic carries message_thread_id and is_topic_message.
- Faults: fail_next (429 or any error), rate_limit (sliding window, 429 with retry_after),
  group_limit (Telegram's ~20 sends and edits a minute per group, one window for both),
  forbid (403: blocked / kicked), migrate (400 with migrate_to_chat_id), delay (latency).

Every request is recorded in `calls`; unknown methods in `unknown`; exceptions raised inside the
fake in `errors` (answered 500). `assert_clean()` fails a test on either.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import inspect
import io
import ipaddress
import itertools
import json
import math
import re
import time
import traceback
from collections import deque
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from aiohttp import ClientSession, ClientTimeout, web

__all__ = ["ApiError", "Call", "FakeBotAPI"]

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
MAX_TEXT_LENGTH = 4096  # UTF-16 code units, after entity parsing
# Telegram's stand-in senders: what `from` holds when a message is sent in a chat's name.
ANONYMOUS_ADMIN = 1087968824  # @GroupAnonymousBot: an admin who stays anonymous in a group
CHANNEL_BOT = 136817688  # @Channel_Bot: a channel posting (or a member "sending as" a channel)
_STAND_INS = {ANONYMOUS_ADMIN: ("Group", "GroupAnonymousBot"), CHANNEL_BOT: ("Channel", "Channel_Bot")}
# Update types Telegram does not send unless they are asked for in allowed_updates.
NOT_DELIVERED_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note",
        "upload_video_note",
    }
)
BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)

# How parameters arrive (form fields are always strings; PTB JSON-encodes every non-string value).
_INT_PARAMS = frozenset(
    {
        "chat_id", "from_chat_id", "message_id", "offset", "limit", "user_id",
        "reply_to_message_id", "cache_time", "max_connections", "message_thread_id",
    }
)
_FLOAT_PARAMS = frozenset({"timeout"})
_BOOL_PARAMS = frozenset(
    {
        "disable_notification", "protect_content", "show_alert", "drop_pending_updates",
        "allow_sending_without_reply", "disable_web_page_preview", "allow_paid_broadcast",
        "revoke_messages", "only_if_banned",
    }
)
_JSON_PARAMS = frozenset(
    {
        "reply_markup", "reply_parameters", "link_preview_options", "commands", "scope",
        "allowed_updates", "entities", "message_ids",
    }
)


class ApiError(Exception):
    """An error answer of the Bot API: {"ok": false, "error_code", "description"[, "parameters"]}."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


@dataclass
class Call:
    """One request the fake received. `params` are decoded (numbers, booleans, and JSON-valued
    parameters such as reply_markup parsed); times are time.monotonic()."""

    method: str
    params: dict[str, Any]
    at: float
    answered_at: float | None = None
    status: int | None = None  # HTTP status of the answer; None while in flight
    throttled: bool = False  # answered 429
    response: dict[str, Any] | None = None
    http_method: str = "POST"
    abandoned: bool = False  # the client hung up before the answer (a cancelled long poll)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def result(self) -> Any:
        return (self.response or {}).get("result")

    def __str__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k != "reply_markup"}
        if "reply_markup" in self.params:
            shown["reply_markup"] = "…"
        status = "in flight" if self.status is None else self.status
        if self.abandoned:
            status = f"{status} (client gone)"
        description = (self.response or {}).get("description")
        extra = f" {description!r}" if description and self.status != 200 else ""
        return f"{self.method} {status}{extra} {json.dumps(shown, ensure_ascii=False)[:200]}"


@dataclass
class _Stored:
    message: dict[str, Any]  # the Message JSON as Telegram would return it now
    from_bot: bool
    text: str  # as sent (before parse_mode)
    parse_mode: str | None
    reply_markup: dict[str, Any] | None  # as sent
    deleted: bool = False


GROUPS = "groups"  # a rate limit for every group chat, each counted alone
# What Telegram counts against a group's ~20 messages a minute: what the bot posts or changes there.
GROUP_MESSAGES = frozenset({"sendmessage", "editmessagetext", "editmessagereplymarkup"})


@dataclass
class _RateLimit:
    method: str | frozenset[str]  # lower case; a set shares one window (a group's sends and edits)
    chat_id: int | str | None  # one chat, None: every chat, GROUPS: every group chat (negative id)
    per_window: int
    window: float
    hits: dict[Any, deque] = field(default_factory=dict)


@dataclass
class _Poll:
    """A getUpdates that is waiting; `terminated` is set when another one replaces it."""

    terminated: asyncio.Event
    current: tuple[web.Request, Call] | None

    def gone(self) -> bool:
        """Whether the client hung up (PTB cancels its long poll when it stops)."""
        if self.current is None:
            return False
        request, call = self.current
        transport = request.transport
        if transport is None or transport.is_closing():
            call.abandoned = True
            return True
        return False


@dataclass
class _Described:
    """A successful result that Telegram answers with a description too (setWebhook…)."""

    result: Any
    description: str


_CURRENT: ContextVar[tuple[web.Request, Call]] = ContextVar("fake_telegram_request")


# --------------------------------------------------------------------------------------------
# Text: entities, parse modes


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_BOT_COMMAND = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>@])")
_MENTION = re.compile(r"(?<!\w)@([A-Za-z0-9_]{2,32})(?!\w)")
# Telegram links 2- and 3-letter @names only for a few well-known inline bots.
_SHORT_MENTIONS = frozenset({"gif", "wiki", "vid", "bing", "pic", "bold", "imdb", "coub", "like", "vote"})


def _auto_entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram finds by itself in plain text: bot commands and @mentions."""
    found: list[dict[str, Any]] = []
    for match in _BOT_COMMAND.finditer(text):
        found.append(
            {
                "offset": _utf16_len(text[: match.start()]),
                "length": _utf16_len(match.group()),
                "type": "bot_command",
            }
        )
    for match in _MENTION.finditer(text):
        name = match.group(1)
        if len(name) < 4 and name.lower() not in _SHORT_MENTIONS:
            continue
        found.append(
            {"offset": _utf16_len(text[: match.start()]), "length": len(name) + 1, "type": "mention"}
        )
    return found


class _MarkupError(Exception):
    pass


_HTML_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
        "tg-emoji", "code", "pre", "blockquote",
    }
)
_HTML_SPACE = " \t\r\n\v\f\0"
_HTML_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8});")
_TG_USER_LINK = re.compile(r"tg://user\?id=(\d+)")


def _parse_html(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML parse mode: returns the plain text and its entities, or raises
    _MarkupError with the description Telegram gives (byte offsets are UTF-8 bytes)."""

    def byte(i: int) -> int:
        return len(src[:i].encode("utf-8"))

    out: list[str] = []
    utf16 = 0
    stack: list[tuple[str, dict[str, str], int, int]] = []  # tag, attributes, utf16 start, begin
    entities: list[dict[str, Any]] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == "&":
            m = _HTML_ENTITY.match(src, i)
            decoded = None
            if m:
                name = m.group(1)
                if name[0] != "#":
                    decoded = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}[name]
                else:
                    code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
                    if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                        decoded = chr(code)
            if decoded is not None:
                out.append(decoded)
                utf16 += _utf16_len(decoded)
                i = m.end()  # type: ignore[union-attr]
                continue
            out.append(c)
            utf16 += 1
            i += 1
            continue
        if c != "<":
            out.append(c)
            utf16 += _utf16_len(c)
            i += 1
            continue
        begin = i
        i += 1
        if i < n and src[i] == "/":  # an end tag
            if not stack:
                raise _MarkupError(f"Unexpected end tag at byte offset {byte(begin)}")
            j = i + 1
            while j < n and src[j] not in _HTML_SPACE and src[j] != ">":
                j += 1
            end_name = src[i + 1 : j].lower()
            while j < n and src[j] in _HTML_SPACE:
                j += 1
            if j >= n or src[j] != ">":
                raise _MarkupError(f"Unclosed end tag at byte offset {byte(begin)}")
            tag, attrs, start, _ = stack[-1]
            if end_name and end_name != tag:
                raise _MarkupError(
                    f'Unmatched end tag at byte offset {byte(begin)}, expected "</{tag}>", '
                    f'found "</{end_name}>"'
                )
            stack.pop()
            if utf16 > start:
                entity = _html_entity(tag, attrs, start, utf16 - start, "".join(out))
                if entity:
                    entities.append(entity)
            i = j + 1
            continue
        j = i  # a start tag
        while j < n and src[j] not in _HTML_SPACE and src[j] != ">":
            j += 1
        if j >= n:
            raise _MarkupError(f"Unclosed start tag at byte offset {byte(begin)}")
        tag = src[i:j].lower()
        if tag not in _HTML_TAGS:
            raise _MarkupError(f'Unsupported start tag "{tag}" at byte offset {byte(begin)}')
        attrs: dict[str, str] = {}
        while True:
            while j < n and src[j] in _HTML_SPACE:
                j += 1
            if j >= n:
                raise _MarkupError(f'Unclosed start tag "{tag}" at byte offset {byte(begin)}')
            if src[j] == ">":
                j += 1
                break
            k = j
            while k < n and (src[k].isascii() and (src[k].isalnum() or src[k] in "-_")):
                k += 1
            if k == j:
                raise _MarkupError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {byte(begin)}'
                )
            attr = src[j:k].lower()
            j = k
            while j < n and src[j] in _HTML_SPACE:
                j += 1
            if tag == "blockquote" and attr == "expandable" and (j >= n or src[j] != "="):
                attrs[attr] = ""
                continue
            if j >= n:
                raise _MarkupError(f'Unclosed start tag "{tag}" at byte offset {byte(begin)}')
            if src[j] != "=":
                raise _MarkupError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {byte(begin)}'
                )
            j += 1
            while j < n and src[j] in _HTML_SPACE:
                j += 1
            if j >= n:
                raise _MarkupError(f'Unclosed start tag "{tag}" at byte offset {byte(begin)}')
            if src[j] in "\"'":
                k = src.find(src[j], j + 1)
                if k < 0:
                    raise _MarkupError(f"Unclosed start tag at byte offset {byte(begin)}")
                value = _HTML_ENTITY.sub(lambda m: _decode_html_entity(m.group(0)), src[j + 1 : k])
                j = k + 1
            else:
                k = j
                while k < n and src[k].isascii() and (src[k].isalnum() or src[k] in ".-"):
                    k += 1
                value = src[j:k]
                j = k
                if j < n and src[j] not in _HTML_SPACE and src[j] != ">":
                    raise _MarkupError(f"Unexpected end of name token at byte offset {byte(j)}")
            attrs[attr] = value
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise _MarkupError(f'Tag "span" must have class "tg-spoiler" at byte offset {byte(begin)}')
        stack.append((tag, attrs, utf16, begin))
        i = j
    if stack:
        raise _MarkupError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    # <pre><code class="language-x">…</code></pre> is one pre entity with a language.
    pres = {(e["offset"], e["length"]): e for e in entities if e["type"] == "pre"}
    merged = []
    for entity in entities:
        language = entity.pop("_language", None)
        pre = pres.get((entity["offset"], entity["length"]))
        if entity["type"] == "code" and pre is not None:
            if language:
                pre["language"] = language
            continue
        merged.append(entity)
    return "".join(out), merged


def _decode_html_entity(entity: str) -> str:
    decoded, _ = _parse_html(entity)
    return decoded


def _html_entity(
    tag: str, attrs: dict[str, str], offset: int, length: int, text_so_far: str
) -> dict[str, Any] | None:
    simple = {
        "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
        "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
        "del": "strikethrough", "span": "spoiler", "tg-spoiler": "spoiler", "pre": "pre",
    }
    entity: dict[str, Any] = {"offset": offset, "length": length}
    if tag in simple:
        entity["type"] = simple[tag]
    elif tag == "code":
        entity["type"] = "code"
        language = attrs.get("class", "")
        if language.startswith("language-"):
            entity["_language"] = language[len("language-") :]
    elif tag == "blockquote":
        entity["type"] = "expandable_blockquote" if "expandable" in attrs else "blockquote"
    elif tag == "tg-emoji":
        emoji_id = attrs.get("emoji-id", "")
        if not emoji_id.isdigit():
            raise _MarkupError("Invalid custom emoji identifier specified")
        entity.update(type="custom_emoji", custom_emoji_id=emoji_id)
    elif tag == "a":
        url = attrs.get("href")
        if not url:
            return None
        user = _TG_USER_LINK.fullmatch(url)
        if user:
            entity.update(
                type="text_mention",
                user={"id": int(user.group(1)), "is_bot": False, "first_name": ""},
            )
        else:
            entity.update(type="text_link", url=url)
    else:  # pragma: no cover - every tag in _HTML_TAGS is handled above
        return None
    return entity


_MD2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MD2_NAMES = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler"}


def _parse_markdown_v2(src: str) -> str:
    """MarkdownV2, best effort: refuses unescaped reserved characters and unclosed entities the
    way Telegram does, and returns the text without markup (entities are not computed)."""
    out: list[str] = []
    open_marks: dict[str, int] = {}
    i, n = 0, len(src)
    in_code = in_pre = False
    at_line_start = True

    def byte(k: int) -> int:
        return len(src[:k].encode("utf-8"))

    while i < n:
        c = src[i]
        line_start, at_line_start = at_line_start, False
        if c == "\\" and i + 1 < n and 0 < ord(src[i + 1]) <= 126:
            out.append(src[i + 1])
            i += 2
            continue
        if in_pre:
            if src.startswith("```", i):
                in_pre = False
                i += 3
            else:
                out.append(c)
                i += 1
            continue
        if in_code:
            if c == "`":
                in_code = False
            else:
                out.append(c)
            i += 1
            continue
        if src.startswith("```", i):
            in_pre = True
            i += 3
            m = re.match(r"[^\s`]*\n", src[i:])
            if m:
                i += m.end()
            open_marks.pop("```", None)
            continue
        if c == "`":
            in_code = True
            i += 1
            continue
        mark = "__" if src.startswith("__", i) else "||" if src.startswith("||", i) else c
        if mark in _MD2_NAMES:
            if mark in open_marks:
                del open_marks[mark]
            else:
                open_marks[mark] = i
            i += len(mark)
            continue
        if c == "!" and src.startswith("![", i):
            i += 1
            continue
        if c == "[":
            open_marks["["] = i
            i += 1
            continue
        if c == "]" and "[" in open_marks:
            if not src.startswith("](", i):
                raise _MarkupError(f"Can't find end of a URL at byte offset {byte(i)}")
            end = src.find(")", i)
            if end < 0:
                raise _MarkupError(f"Can't find end of a URL at byte offset {byte(i + 2)}")
            del open_marks["["]
            i = end + 1
            continue
        if c == ">" and line_start:
            i += 1
            continue
        if c in _MD2_RESERVED:
            raise _MarkupError(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        out.append(c)
        at_line_start = c == "\n"
        i += 1
    if in_code or in_pre:
        raise _MarkupError("Can't find end of Pre entity" if in_pre else "Can't find end of Code entity")
    for mark, at in open_marks.items():
        name = "TextUrl" if mark == "[" else _MD2_NAMES.get(mark, "Pre")
        raise _MarkupError(f"Can't find end of {name} entity at byte offset {byte(at)}")
    return "".join(out)


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram strips leading and trailing white space from a message's text."""
    lead = _utf16_len(text[: len(text) - len(text.lstrip())])
    body = text.strip()
    total = _utf16_len(body)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] - lead + entity["length"], total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return body, kept


def _render(text: Any, parse_mode: Any, entities: Any) -> tuple[str, list[dict[str, Any]]]:
    """The text and entities of the Message Telegram would store for these parameters."""
    if not isinstance(text, str) or not text:
        raise ApiError(400, "Bad Request: message text is empty")
    mode = (parse_mode or "").lower() if isinstance(parse_mode, str) else ""
    try:
        if mode == "html":
            plain, found = _parse_html(text)
        elif mode == "markdownv2":
            plain, found = _parse_markdown_v2(text), []
        elif mode == "markdown":
            plain, found = text, []
        elif mode == "":
            plain = text
            found = [dict(e) for e in entities] if isinstance(entities, list) else []
        else:
            raise ApiError(400, "Bad Request: unsupported parse_mode")
    except _MarkupError as exc:
        raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
    plain, found = _trim(plain, found)
    if not plain:
        raise ApiError(400, "Bad Request: message text is empty")
    if _utf16_len(plain) > MAX_TEXT_LENGTH:
        raise ApiError(400, "Bad Request: message is too long")
    opaque = [e for e in found if e.get("type") in ("code", "pre", "text_link", "url")]
    for entity in _auto_entities(plain):
        start, end = entity["offset"], entity["offset"] + entity["length"]
        if not any(o["offset"] < end and start < o["offset"] + o["length"] for o in opaque):
            found.append(entity)
    found.sort(key=lambda e: (e["offset"], -e["length"]))
    return plain, found


# --------------------------------------------------------------------------------------------
# Parameters


def _decode_params(raw: dict[str, Any]) -> tuple[dict[str, Any], ApiError | None]:
    params: dict[str, Any] = {}
    error: ApiError | None = None
    for name, value in raw.items():
        if name in _JSON_PARAMS and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                what = "reply keyboard markup" if name == "reply_markup" else name
                error = error or ApiError(400, f"Bad Request: can't parse {what} JSON object")
        elif name in _INT_PARAMS and isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)
        elif name in _FLOAT_PARAMS and isinstance(value, str):
            try:
                value = float(value)
                value = int(value) if value.is_integer() else value
            except ValueError:
                pass
        elif name in _BOOL_PARAMS and isinstance(value, str):
            value = value.strip().lower() in ("true", "1")
        params[name] = value
    return params, error


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _markup_key(markup: dict[str, Any] | None) -> str:
    return json.dumps(markup, sort_keys=True, ensure_ascii=False)


# --------------------------------------------------------------------------------------------


class FakeBotAPI:
    """A Telegram Bot API server on 127.0.0.1 for one bot. See the module docstring."""

    def __init__(
        self,
        token: str = "123456:TEST-token",
        bot_username: str = "coopbot",
        bot_id: int = 123456,
        delay: float = 0.0,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_id = bot_id
        self.delay = delay
        self.bot_first_name = bot_username[:1].upper() + bot_username[1:]

        self.calls: list[Call] = []
        self.unknown: list[str] = []  # methods (or paths) the fake does not know
        self.errors: list[str] = []  # tracebacks of exceptions inside the fake
        self.throttled = 0  # how many 429s were answered
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (scope, lang) -> list
        self.webhook: dict[str, Any] | None = None  # url, secret_token, … while one is set
        self.posted: list[tuple[str, dict[str, Any], int]] = []  # post_update: url, update, status
        self.photos: dict[tuple[int, int], bytes] = {}  # sendPhoto: (chat, message_id) -> the file's bytes
        self.files: dict[str, bytes] = {}  # file_id -> bytes, for a photo sent again by its file_id
        # sendDocument: (chat, message_id) -> (file name, MIME type, bytes)
        self.documents: dict[tuple[int, int], tuple[str, str, bytes]] = {}

        self._queue: list[dict[str, Any]] = []  # unconfirmed updates, by update_id
        self._next_update_id = 1000
        self._allowed: set[str] | None = None  # None: Telegram's default
        self._wake = asyncio.Event()
        self._poller: _Poll | None = None  # the getUpdates waiting now
        self._chats: dict[int, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._messages: dict[int, dict[int, _Stored]] = {}
        self._last_message_id: dict[int, int] = {}
        self._topics: dict[int, set[int]] = {}  # forum chat id -> the topics (thread ids) seen in it
        self._callbacks: dict[str, bool] = {}  # query id -> answered
        self._callback_ids = itertools.count(1)
        self._failures: dict[str, deque[ApiError]] = {}
        self._limits: list[_RateLimit] = []
        self._forbidden: dict[int, str] = {}
        self._migrated: dict[int, int] = {}
        self._members: dict[tuple[int, int], str] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = False
        self._methods: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "setMyCommands": self._set_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "getMyCommands": self._get_my_commands,
                "sendMessage": self._send_message,
                "sendPhoto": self._send_photo,
                "sendDocument": self._send_document,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "sendChatAction": self._send_chat_action,
                "getChat": self._get_chat,
                "getChatMember": self._get_chat_member,
                "close": lambda params: True,
                "logOut": lambda params: True,
            }.items()
        }

    # ---------------------------------------------------------------- life cycle

    async def start(self) -> FakeBotAPI:
        """Listen on 127.0.0.1 on a free port."""
        if self._runner is not None:
            return self
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{path:.*}", self._not_found)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]
        self._closing = False
        self._wake = asyncio.Event()
        return self

    async def stop(self) -> None:
        """Answer pending long polls (empty) and close the server."""
        if self._runner is None:
            return
        self._closing = True
        self._wake.set()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Root URL, e.g. http://127.0.0.1:PORT (the bot's base_url is url + "/bot")."""
        if self._port is None:
            raise RuntimeError("FakeBotAPI is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    # ---------------------------------------------------------------- inspection

    def calls_to(self, method: str) -> list[Call]:
        """Calls of one method (case-insensitive), answered or in flight, 429s included."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def messages(self, chat_id: int) -> dict[int, dict[str, Any]]:
        """The bot's messages in a chat as they stand now (edits applied, deleted ones gone):
        message_id -> {"text" (as sent, before parse_mode), "reply_markup", "parse_mode"}."""
        return {
            mid: {
                "text": s.text,
                "reply_markup": copy.deepcopy(s.reply_markup),
                "parse_mode": s.parse_mode,
            }
            for mid, s in sorted(self._messages.get(chat_id, {}).items())
            if s.from_bot and not s.deleted
        }

    def texts(self, chat_id: int) -> list[str]:
        """The texts of the bot's current messages in a chat, oldest first."""
        return [m["text"] for m in self.messages(chat_id).values()]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """The full Message JSON Telegram holds for a message (anyone's), or None."""
        stored = self._messages.get(chat_id, {}).get(message_id)
        return None if stored is None or stored.deleted else copy.deepcopy(stored.message)

    def update_ids(self) -> list[int]:
        """update_ids of the updates not yet confirmed, oldest first."""
        return [u["update_id"] for u in self._queue]

    @property
    def pending_callbacks(self) -> list[str]:
        """Callback query ids sent to the bot and not yet answered."""
        return [qid for qid, answered in self._callbacks.items() if not answered]

    def my_commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[dict[str, Any]]:
        """The command list set for a scope (default scope if None) and language."""
        return copy.deepcopy(self.commands.get(self._scope_key(scope, language_code), []))

    def summary(self, last: int = 40) -> str:
        lines = [f"FakeBotAPI at {self._port}: {len(self.calls)} calls"]
        start = self.calls[0].at if self.calls else 0.0
        for call in self.calls[-last:]:
            lines.append(f"  +{call.at - start:7.3f}s {call}")
        lines.append(f"  queue (unconfirmed update_ids): {self.update_ids()}")
        if self.unknown:
            lines.append(f"  unknown methods: {self.unknown}")
        if self.errors:
            lines.append(f"  errors inside the fake: {len(self.errors)}")
            lines.extend("    " + e.replace("\n", "\n    ") for e in self.errors)
        return "\n".join(lines)

    def assert_clean(self) -> None:
        """Fail if the bot called a method the fake does not know, or the fake raised."""
        problems = []
        if self.unknown:
            problems.append(f"unknown Bot API methods called: {self.unknown}")
        if self.errors:
            problems.append("exceptions inside FakeBotAPI:\n" + "\n".join(self.errors))
        if problems:
            raise AssertionError("\n".join(problems))

    async def wait_for(self, predicate: Callable[[FakeBotAPI], Any], timeout: float = 10) -> Any:
        """Poll until predicate(self) is truthy (it may be async); return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            if time.monotonic() >= deadline:
                name = getattr(predicate, "__name__", repr(predicate))
                raise AssertionError(f"{name} not true within {timeout}s\n{self.summary()}")
            await asyncio.sleep(0.01)

    # ---------------------------------------------------------------- updates in

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update (assigning the next update_id if it has none) and wake long polls."""
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
        bisect.insort(self._queue, update, key=lambda u: u["update_id"])
        self._wake.set()
        return update

    def command(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        first_name: str = "Member",
        username: str | None = None,
        chat_type: str | None = None,
        *,
        title: str | None = None,
        sender_chat: int | None = None,
        is_bot: bool = False,
    ) -> dict[str, Any]:
        """Queue a message update: `user_id` writes `text` in `chat_id` (a private chat when
        chat_id == user_id > 0; a group when chat_id < 0, a supergroup from -100…). Entities
        (bot_command, mention) are set as Telegram sets them. Returns the update.

        `sender_chat`: sent in a chat's name, as Telegram does it: the group's own id for an
        anonymous admin (`from` is @GroupAnonymousBot), a channel's id (negative, -100…) for a
        channel or a member sending as one (`from` is @Channel_Bot); `user_id` is then ignored.
        `is_bot`: the sender is another bot."""
        if sender_chat is not None:
            user_id = ANONYMOUS_ADMIN if sender_chat == chat_id else CHANNEL_BOT
        if chat_id > 0 and chat_id != user_id:
            raise ValueError("a private chat's id is the id of the user in it")
        if chat_type == "channel":
            raise ValueError("channels post channel_post updates without a sender; use push_update")
        user = self._remember_user(user_id, first_name, username, is_bot=is_bot)
        chat = self._remember_chat(chat_id, chat_type, title)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": user,
        }
        if sender_chat is not None:
            message["sender_chat"] = (
                chat if sender_chat == chat_id else {"id": sender_chat, "title": f"Channel {abs(sender_chat)}", "type": "channel"}
            )
        message.update({"chat": chat, "date": int(time.time()), "text": text})
        entities = _auto_entities(text)
        if entities:
            message["entities"] = entities
        self._messages.setdefault(chat_id, {})[message["message_id"]] = _Stored(
            copy.deepcopy(message), from_bot=False, text=text, parse_mode=None, reply_markup=None
        )
        return self.push_update({"update_id": self._next_update_id, "message": message})

    def push_message(self, message: dict[str, Any], *, edited: bool = False) -> dict[str, Any]:
        """Queue a Message built elsewhere (a fixture of the Bot API's JSON) as a `message` update,
        with the chat's next message_id; or, `edited`, as an `edited_message` update of the
        message it names by message_id, which must be one the fake delivered. Its `from` and
        `chat` are remembered as given (a forum's `is_forum` too), and a topic it is in becomes
        one the bot may send to. Returns the update."""
        message = copy.deepcopy(message)
        chat_id = message["chat"]["id"]
        self._chats[chat_id] = copy.deepcopy(message["chat"])
        if "from" in message:
            self._users[message["from"]["id"]] = copy.deepcopy(message["from"])
        if message.get("is_topic_message") and message["chat"].get("is_forum"):
            self._topics.setdefault(chat_id, set()).add(message["message_thread_id"])
        if edited:
            stored = self._messages.get(chat_id, {}).get(message["message_id"])
            if stored is None or stored.from_bot:
                raise ValueError(f"no message {message['message_id']} of a user in chat {chat_id} to edit")
            stored.message, stored.text = copy.deepcopy(message), message.get("text", "")
            return self.push_update({"update_id": self._next_update_id, "edited_message": message})
        message["message_id"] = self._next_message_id(chat_id)
        self._messages.setdefault(chat_id, {})[message["message_id"]] = _Stored(
            copy.deepcopy(message), from_bot=False, text=message.get("text", ""), parse_mode=None, reply_markup=None
        )
        return self.push_update({"update_id": self._next_update_id, "message": message})

    def callback(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        data: str,
        first_name: str = "Member",
        username: str | None = None,
        *,
        check_button: bool = True,
        is_bot: bool = False,
    ) -> dict[str, Any]:
        """Queue a callback_query update: `user_id` taps the button with `data` under message
        `message_id`. The message is the bot's message as it stands now (an inaccessible message
        {chat, message_id, date: 0} if the fake never saw it). Telegram delivers only taps on
        buttons the message has: with check_button, data not on the message's keyboard is a
        ValueError (pass check_button=False to simulate a stale client). `user_id` may be a stand-in
        (ANONYMOUS_ADMIN, CHANNEL_BOT) or, with `is_bot`, another bot. Returns the update."""
        user = self._remember_user(user_id, first_name, username, is_bot=is_bot)
        stored = self._messages.get(chat_id, {}).get(message_id)
        if stored is not None and not stored.deleted:
            message = copy.deepcopy(stored.message)
            buttons = [
                button.get("callback_data")
                for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
                for button in row
            ]
            if check_button and data not in buttons:
                raise ValueError(
                    f"message {message_id} in chat {chat_id} has no button with callback_data "
                    f"{data!r} (it has {buttons}); Telegram would not deliver this tap"
                )
        else:
            message = {"message_id": message_id, "chat": self._chat(chat_id), "date": 0}
        query_id = str(4_100_000_000_000_000_000 + next(self._callback_ids))
        self._callbacks[query_id] = False
        query = {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": str((chat_id * 0x9E3779B97F4A7C15) % (1 << 63)),
            "data": data,
        }
        return self.push_update({"update_id": self._next_update_id, "callback_query": query})

    # ---------------------------------------------------------------- faults

    def fail_next(
        self,
        method: str,
        n: int = 1,
        retry_after: int = 3,
        *,
        error_code: int = 429,
        description: str | None = None,
    ) -> None:
        """The next n calls of `method` fail: 429 Too Many Requests with retry_after by default,
        or any error_code/description (e.g. 502 "Bad Gateway")."""
        def error() -> ApiError:
            if error_code == 429 and description is None:
                return _too_many_requests(retry_after)
            return ApiError(error_code, description or f"Error {error_code}")

        self._failures.setdefault(method.lower(), deque()).extend(error() for _ in range(n))

    def rate_limit(
        self, method: str, chat_id: int | None = None, per_minute: int = 20, *, window: float = 60.0
    ) -> None:
        """Calls of `method` beyond per_minute per chat (only `chat_id`, or every chat when
        None) within a sliding `window` of seconds answer 429 with the retry_after at which the
        oldest call leaves the window. Counted in `throttled`."""
        self._limits.append(_RateLimit(method.lower(), chat_id, per_minute, window))

    def group_limit(self, per_minute: int = 20) -> None:
        """Telegram's limit in groups: more than `per_minute` messages sent or edited by the bot in
        one group within a minute answer 429 with retry_after (private chats are not limited here)."""
        self._limits.append(_RateLimit(GROUP_MESSAGES, GROUPS, per_minute, 60.0))

    def forbid(self, chat_id: int, description: str | None = None) -> None:
        """Every call in this chat answers 403 (the user blocked the bot / it was kicked)."""
        if description is None:
            kind = self._chat(chat_id)["type"]
            description = {
                "private": "Forbidden: bot was blocked by the user",
                "group": "Forbidden: bot was kicked from the group chat",
                "supergroup": "Forbidden: bot was kicked from the supergroup chat",
            }.get(kind, "Forbidden: bot is not a member of the channel chat")
        self._forbidden[chat_id] = description

    def allow(self, chat_id: int) -> None:
        """Undo forbid(chat_id)."""
        self._forbidden.pop(chat_id, None)

    def migrate(self, chat_id: int, new_chat_id: int) -> None:
        """The group became a supergroup: calls in the old chat answer 400 with
        parameters.migrate_to_chat_id (python-telegram-bot raises ChatMigrated)."""
        old = self._chat(chat_id)
        self._migrated[chat_id] = new_chat_id
        self._chats[new_chat_id] = {"id": new_chat_id, "title": old.get("title", ""), "type": "supergroup"}

    def set_member(self, chat_id: int, user_id: int, status: str) -> None:
        """getChatMember's status for a user (the bot included): creator, administrator,
        member, left or kicked. Default: member."""
        if status not in ("creator", "administrator", "member", "left", "kicked"):
            raise ValueError(f"unsupported status {status!r}")
        self._members[(chat_id, user_id)] = status

    # ---------------------------------------------------------------- webhook side

    async def post_update(
        self, url: str, update: dict[str, Any], secret: str | None = None
    ) -> tuple[int, str]:
        """POST an update as JSON to a bot's webhook, as Telegram does (with the header
        X-Telegram-Bot-Api-Secret-Token when `secret` is given). Loopback URLs only."""
        if not _is_loopback(urlsplit(url).hostname):
            raise ValueError(f"FakeBotAPI only connects to 127.0.0.1, not {url!r}")
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
            self._next_update_id += 1
        headers = {}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        async with ClientSession(timeout=ClientTimeout(total=10), trust_env=False) as session:
            async with session.post(url, json=update, headers=headers) as response:
                body = await response.text()
                self.posted.append((url, update, response.status))
                return response.status, body

    # ---------------------------------------------------------------- HTTP

    async def _not_found(self, request: web.Request) -> web.Response:
        self.unknown.append(request.path)
        body = {"ok": False, "error_code": 404, "description": "Not Found"}
        return web.json_response(body, status=404)

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query)
        if request.body_exists:
            if request.content_type == "application/json":
                data = await request.read()
                try:
                    body = json.loads(data) if data.strip() else {}
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: can't parse JSON object")
                raw.update(body)
            elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                for name, value in (await request.post()).items():
                    raw[name] = value if isinstance(value, str) else {"file": getattr(value, "filename", None)}
        return raw

    async def _handle(self, request: web.Request) -> web.Response:
        call = Call(
            method=request.match_info["method"], params={}, at=time.monotonic(),
            http_method=request.method,
        )
        self.calls.append(call)
        try:
            try:
                bad_params: ApiError | None = None
                try:
                    call.params, bad_params = _decode_params(await self._read_params(request))
                except ApiError as exc:
                    bad_params = exc
                if self.delay:
                    await asyncio.sleep(self.delay)
                if request.match_info["token"] != self.token:
                    raise ApiError(401, "Unauthorized")
                entry = self._methods.get(call.method.lower())
                if entry is None:
                    self.unknown.append(call.method)
                    raise ApiError(404, "Not Found: method not found")
                call.method, handler = entry
                if bad_params is not None:
                    raise bad_params
                self._inject_faults(call)
                _CURRENT.set((request, call))
                result = handler(call.params)
                if inspect.isawaitable(result):
                    result = await result
                status = 200
                if isinstance(result, _Described):
                    body = {"ok": True, "result": result.result, "description": result.description}
                else:
                    body = {"ok": True, "result": result}
            except ApiError as exc:
                status, body = exc.code, exc.body()
                if exc.code == 429:
                    self.throttled += 1
                    call.throttled = True
        except Exception:  # a bug in the fake: answer 500, and let assert_clean report it
            self.errors.append(f"{call.method} {call.params!r}\n{traceback.format_exc()}")
            status = 500
            body = {"ok": False, "error_code": 500, "description": "Internal Server Error"}
        call.status, call.response = status, body
        call.answered_at = time.monotonic()
        return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    def _inject_faults(self, call: Call) -> None:
        failures = self._failures.get(call.method.lower())
        if failures:
            raise failures.popleft()
        chat_id = call.params.get("chat_id")
        if chat_id in self._migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self._migrated[chat_id]},
            )
        if chat_id in self._forbidden:
            raise ApiError(403, self._forbidden[chat_id])
        now = time.monotonic()
        applying = []
        for limit in self._limits:
            if call.method.lower() not in (limit.method if isinstance(limit.method, frozenset) else {limit.method}):
                continue
            if limit.chat_id == GROUPS:
                if not isinstance(chat_id, int) or chat_id >= 0:
                    continue
            elif limit.chat_id is not None and limit.chat_id != chat_id:
                continue
            hits = limit.hits.setdefault(chat_id, deque())
            while hits and hits[0] <= now - limit.window:
                hits.popleft()
            if len(hits) >= limit.per_window:
                raise _too_many_requests(max(1, math.ceil(hits[0] + limit.window - now)))
            applying.append(hits)
        for hits in applying:
            hits.append(now)

    # ---------------------------------------------------------------- state helpers

    def _remember_user(
        self, user_id: int, first_name: str, username: str | None, *, is_bot: bool = False
    ) -> dict[str, Any]:
        if user_id in _STAND_INS:
            first_name, username = _STAND_INS[user_id]
            is_bot = True
        user: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
        if username:
            user["username"] = username
        user["language_code"] = "en"
        self._users[user_id] = user
        if user_id in self._chats:  # the private chat shows the user's current names
            self._chats[user_id] = self._default_chat(user_id, "private", None)
        return copy.deepcopy(user)

    def _user(self, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_id:
            return self.bot_user
        user = self._users.get(user_id)
        if user is None:
            return {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        return {k: v for k, v in user.items() if k != "language_code"}

    def _default_chat(self, chat_id: int, chat_type: str | None, title: str | None) -> dict[str, Any]:
        if chat_type is None:
            chat_type = (
                "private" if chat_id > 0 else "supergroup" if chat_id <= -1_000_000_000_000 else "group"
            )
        if chat_type == "private":
            user = self._user(chat_id)
            chat = {"id": chat_id, "first_name": user["first_name"]}
            if user.get("username"):
                chat["username"] = user["username"]
            chat["type"] = "private"
            return chat
        return {"id": chat_id, "title": title or f"Group {abs(chat_id)}", "type": chat_type}

    def _remember_chat(self, chat_id: int, chat_type: str | None, title: str | None) -> dict[str, Any]:
        known = self._chats.get(chat_id)
        if known is None or chat_type is not None or title is not None:
            if known is not None:
                chat_type = chat_type or known["type"]
                title = title or known.get("title")
            self._chats[chat_id] = self._default_chat(chat_id, chat_type, title)
        return copy.deepcopy(self._chats[chat_id])

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id not in self._chats:
            self._chats[chat_id] = self._default_chat(chat_id, None, None)
        return copy.deepcopy(self._chats[chat_id])

    def _next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _chat_id(self, params: dict[str, Any]) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(chat_id, str):
            for known in self._chats.values():
                if chat_id.startswith("@") and known.get("username") == chat_id[1:]:
                    return known["id"]
            raise ApiError(400, "Bad Request: chat not found")
        if not isinstance(chat_id, int) or isinstance(chat_id, bool) or chat_id == 0:
            raise ApiError(400, "Bad Request: chat not found")
        return chat_id

    def _markup(self, params: dict[str, Any], inline_only: bool = False) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if inline_only:
                raise ApiError(400, "Bad Request: inline keyboard expected")
            return markup
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise ApiError(
                400,
                'Bad Request: Field "inline_keyboard" of the InlineKeyboardMarkup should be an '
                "Array of Arrays",
            )
        bad_button = "Bad Request: can't parse inline keyboard button: "
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise ApiError(400, bad_button + 'Field "text" must be of type String')
                if not any(action in button for action in BUTTON_ACTIONS):
                    raise ApiError(400, bad_button + "Text buttons are unallowed in the inline keyboard")
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                        raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        if not any(rows):
            return None
        return markup

    def _reply_target(self, chat_id: int, params: dict[str, Any]) -> dict[str, Any] | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            target_chat = reply.get("chat_id", chat_id)
            allow = bool(reply.get("allow_sending_without_reply", params.get("allow_sending_without_reply")))
        else:
            message_id = params.get("reply_to_message_id")
            target_chat = chat_id
            allow = bool(params.get("allow_sending_without_reply"))
        if message_id is None:
            return None
        stored = self._messages.get(target_chat, {}).get(message_id)
        if stored is not None and not stored.deleted:
            message = copy.deepcopy(stored.message)
            message.pop("reply_to_message", None)
            return message
        if allow:
            return None
        raise ApiError(400, "Bad Request: message to be replied not found")

    def _stored_for_edit(self, params: dict[str, Any]) -> _Stored:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat_id = self._chat_id(params)
        message_id = params.get("message_id")
        if message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        stored = self._messages.get(chat_id, {}).get(message_id)
        if stored is None or stored.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not stored.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return stored

    @staticmethod
    def _scope_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = scope if isinstance(scope, dict) and scope else {"type": "default"}
        return json.dumps(scope, sort_keys=True), language_code or ""

    # ---------------------------------------------------------------- methods

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset") or 0
        limit = params.get("limit") or 100
        timeout = params.get("timeout") or 0
        if not isinstance(offset, int) or not isinstance(limit, int) or not isinstance(timeout, (int, float)):
            raise ApiError(400, "Bad Request: wrong parameter in getUpdates request")
        limit = min(max(limit, 1), 100)
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            self._allowed = set(allowed) if isinstance(allowed, list) and allowed else None
        if offset > 0:
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
        elif offset < 0:
            self._queue = self._queue[offset:]
        self._end_other_poll()
        this = _Poll(asyncio.Event(), _CURRENT.get(None))
        self._poller = this
        deadline = time.monotonic() + max(0.0, float(timeout))
        try:
            while True:
                self._wake.clear()
                if this.terminated.is_set():
                    if this.gone():
                        return []
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
                self._queue = [u for u in self._queue if self._wanted(u)]
                if self._queue or self._closing:
                    return copy.deepcopy(self._queue[:limit])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                if this.gone():
                    return []
                try:  # wake on a push; look every 50 ms whether the client is still there
                    await asyncio.wait_for(self._wake.wait(), min(remaining, 0.05))
                except asyncio.TimeoutError:
                    pass
        finally:
            if self._poller is this:
                self._poller = None

    def _end_other_poll(self) -> None:
        """Telegram answers a pending getUpdates 409 when another one arrives (a client that
        already hung up gets nothing)."""
        if self._poller is not None:
            self._poller.terminated.set()
            self._wake.set()

    def _wanted(self, update: dict[str, Any]) -> bool:
        kind = next((k for k in update if k != "update_id"), None)
        if self._allowed is None:
            return kind not in NOT_DELIVERED_BY_DEFAULT
        return kind in self._allowed

    def _set_webhook(self, params: dict[str, Any]) -> _Described:
        url = params.get("url") or ""
        if not url:
            return self._delete_webhook(params)
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._queue.clear()
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            self._allowed = set(allowed) if isinstance(allowed, list) and allowed else None
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": params.get("max_connections", 40),
            "ip_address": params.get("ip_address"),
        }
        self._end_other_poll()
        return _Described(True, "Webhook was set")

    def _delete_webhook(self, params: dict[str, Any]) -> _Described:
        if params.get("drop_pending_updates"):
            self._queue.clear()
        was_set, self.webhook = self.webhook is not None, None
        return _Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.webhook:
            info["max_connections"] = self.webhook["max_connections"]
            info["ip_address"] = self.webhook.get("ip_address") or "127.0.0.1"
            if self._allowed is not None:
                info["allowed_updates"] = sorted(self._allowed)
        return info

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands specified")
        for command in commands:
            if not isinstance(command, dict):
                raise ApiError(400, "Bad Request: can't parse BotCommand")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise ApiError(400, "Bad Request: command description must be non-empty")
        key = self._scope_key(params.get("scope"), params.get("language_code"))
        if commands:
            self.commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        else:
            self.commands.pop(key, None)
        return True

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(self._scope_key(params.get("scope"), params.get("language_code")), None)
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.my_commands(params.get("scope"), params.get("language_code") or "")

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        thread = params.get("message_thread_id")
        if thread is not None and thread not in self._topics.get(chat_id, set()):
            raise ApiError(400, "Bad Request: message thread not found")
        markup = self._markup(params)
        text, entities = _render(params.get("text"), params.get("parse_mode"), params.get("entities"))
        reply_to = self._reply_target(chat_id, params)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": self.bot_user,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
        }
        if thread is not None:
            message["message_thread_id"] = thread
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message["text"] = text
        if entities:
            message["entities"] = entities
        if isinstance(params.get("link_preview_options"), dict):
            message["link_preview_options"] = params["link_preview_options"]
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        if thread is not None:
            message["is_topic_message"] = True
        self._messages.setdefault(chat_id, {})[message["message_id"]] = _Stored(
            copy.deepcopy(message),
            from_bot=True,
            text=params["text"],
            parse_mode=params.get("parse_mode"),
            reply_markup=copy.deepcopy(markup),
        )
        return message

    # ---------------------------------------------------------------- photos (the drift timeline)

    async def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        """sendPhoto as Telegram takes it: a new file only as the multipart/form-data part named
        `photo` (or, as a string, a file_id sent before); caption up to 1024 characters. The
        bytes are kept in `photos` (chat, message_id) -> bytes; the Message has a `photo` array
        of PhotoSize, the largest last, no side over 1280."""
        from PIL import Image  # the fake decodes what it is sent, as Telegram does

        request, _ = _CURRENT.get()
        chat_id = self._chat_id(params)
        photo = params.get("photo")
        if isinstance(photo, str):
            data = self.files.get(photo)
            if data is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        elif isinstance(photo, dict) and request.content_type == "multipart/form-data":
            part = (await request.post()).get("photo")
            part.file.seek(0)
            data = part.file.read()
        else:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        if len(data) > 10 * 1024 * 1024:
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        try:
            width, height = Image.open(io.BytesIO(data)).size
        except Exception:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED") from None
        if width + height > 10000 or max(width, height) > 20 * min(width, height):
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        caption, entities, thread, reply_to = self._file_caption_and_place(chat_id, params)
        unique = f"photo{len(self.files) + 1}"
        self.files[unique] = data
        sizes = []
        for side in (90, 320, 800, 1280):
            scale = min(1.0, side / max(width, height))
            size = {"file_id": f"{unique}-{side}", "file_unique_id": f"{unique}{side}",
                    "width": max(1, round(width * scale)), "height": max(1, round(height * scale))}
            if sizes and (size["width"], size["height"]) == (sizes[-1]["width"], sizes[-1]["height"]):
                break
            sizes.append(size)
            self.files[size["file_id"]] = data
        sizes[-1]["file_size"] = len(data)
        message: dict[str, Any] = {"message_id": self._next_message_id(chat_id), "from": self.bot_user,
                                   "chat": self._chat(chat_id), "date": int(time.time()), "photo": sizes}
        self._place_file_message(message, caption, entities, thread, reply_to)
        self.photos[(chat_id, message["message_id"])] = data
        return self._keep_file_message(chat_id, message, caption, params)

    async def _send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        """sendDocument as Telegram takes it: a new file only as the multipart/form-data part named
        `document` (or, as a string, a file_id sent before), at most 50 MB; caption up to 1024
        characters. Kept in `documents`; the Message has a `document` (file name, MIME type, size)."""
        request, _ = _CURRENT.get()
        chat_id = self._chat_id(params)
        document = params.get("document")
        if isinstance(document, str):
            data = self.files.get(document)
            if data is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            name, mime = "document", "application/octet-stream"
        elif isinstance(document, dict) and request.content_type == "multipart/form-data":
            part = (await request.post()).get("document")
            part.file.seek(0)
            data = part.file.read()
            name, mime = part.filename or "document", part.content_type or "application/octet-stream"
        else:
            raise ApiError(400, "Bad Request: there is no document in the request")
        if not data:
            raise ApiError(400, "Bad Request: file must be non-empty")
        if len(data) > 50 * 1024 * 1024:
            raise ApiError(400, "Bad Request: file is too big")
        caption, entities, thread, reply_to = self._file_caption_and_place(chat_id, params)
        unique = f"document{len(self.files) + 1}"
        self.files[unique] = data
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id), "from": self.bot_user, "chat": self._chat(chat_id),
            "date": int(time.time()),
            "document": {"file_id": unique, "file_unique_id": unique, "file_name": name, "mime_type": mime,
                         "file_size": len(data)},
        }
        self._place_file_message(message, caption, entities, thread, reply_to)
        self.documents[(chat_id, message["message_id"])] = (name, mime, data)
        return self._keep_file_message(chat_id, message, caption, params)

    def _file_caption_and_place(self, chat_id, params: dict[str, Any]) -> tuple[str, list, Any, Any]:
        """What sendPhoto and sendDocument check alike: the caption (at most 1024 characters), the
        forum topic it goes to, the message it answers."""
        caption, entities = ("", []) if not params.get("caption") else _render(
            params["caption"], params.get("parse_mode"), params.get("caption_entities"))
        if _utf16_len(caption) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        thread = params.get("message_thread_id")
        if thread is not None and thread not in self._topics.get(chat_id, set()):
            raise ApiError(400, "Bad Request: message thread not found")
        return caption, entities, thread, self._reply_target(chat_id, params)

    @staticmethod
    def _place_file_message(message: dict[str, Any], caption: str, entities: list, thread, reply_to) -> None:
        if thread is not None:
            message.update(message_thread_id=thread, is_topic_message=True)
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if caption:
            message["caption"] = caption
            if entities:
                message["caption_entities"] = entities

    def _keep_file_message(self, chat_id, message: dict[str, Any], caption: str, params: dict[str, Any]) -> dict[str, Any]:
        self._messages.setdefault(chat_id, {})[message["message_id"]] = _Stored(
            copy.deepcopy(message), from_bot=True, text=caption, parse_mode=params.get("parse_mode"), reply_markup=None)
        return message

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._stored_for_edit(params)
        markup = self._markup(params, inline_only=True)
        text, entities = _render(params.get("text"), params.get("parse_mode"), params.get("entities"))
        current = stored.message
        if (
            current.get("text") == text
            and current.get("entities", []) == entities
            and _markup_key(current.get("reply_markup")) == _markup_key(markup)
        ):
            raise ApiError(400, NOT_MODIFIED)
        edited = copy.deepcopy(current)
        edited["text"] = text
        edited.pop("entities", None)
        if entities:
            edited["entities"] = entities
        edited.pop("reply_markup", None)  # an edit without reply_markup removes the keyboard
        if markup is not None:
            edited["reply_markup"] = markup
        edited["edit_date"] = int(time.time())
        stored.message = edited
        stored.text = params["text"]
        stored.parse_mode = params.get("parse_mode")
        stored.reply_markup = copy.deepcopy(markup)
        return copy.deepcopy(edited)

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._stored_for_edit(params)
        markup = self._markup(params, inline_only=True)
        if _markup_key(stored.message.get("reply_markup")) == _markup_key(markup):
            raise ApiError(400, NOT_MODIFIED)
        edited = copy.deepcopy(stored.message)
        edited.pop("reply_markup", None)
        if markup is not None:
            edited["reply_markup"] = markup
        edited["edit_date"] = int(time.time())
        stored.message = edited
        stored.reply_markup = copy.deepcopy(markup)
        return copy.deepcopy(edited)

    def _delete_message(self, params: dict[str, Any]) -> bool:
        chat_id = self._chat_id(params)
        stored = self._messages.get(chat_id, {}).get(params.get("message_id"))  # type: ignore[arg-type]
        if stored is None or stored.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        bot_status = self._members.get((chat_id, self.bot_id), "member")
        if not stored.from_bot and chat_id < 0 and bot_status not in ("administrator", "creator"):
            raise ApiError(400, "Bad Request: message can't be deleted")
        stored.deleted = True
        return True

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = params.get("callback_query_id")
        if not isinstance(query_id, str) or self._callbacks.get(query_id) is not False:
            raise ApiError(400, QUERY_INVALID)
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._callbacks[query_id] = True
        return True

    def _send_chat_action(self, params: dict[str, Any]) -> bool:
        self._chat_id(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _get_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(self._chat_id(params))
        chat.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return chat

    def _get_chat_member(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        user_id = params.get("user_id")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise ApiError(400, "Bad Request: PARTICIPANT_ID_INVALID")
        status = self._members.get((chat_id, user_id), "member")
        user = self._user(user_id)
        if status == "creator":
            return {"status": "creator", "user": user, "is_anonymous": False}
        if status == "administrator":
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_pin_messages": True,
            }
        if status == "kicked":
            return {"status": "kicked", "user": user, "until_date": 0}
        return {"status": status, "user": user}
