"""Pure conversions between python-telegram-bot objects and the core's neutral events."""

from __future__ import annotations

import re

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update, User

from handlers.cards import CardView
from handlers.events import CommandReceived, VoteCast
from handlers.types import ChatRef, UserRef

PLATFORM = "telegram"
MAX_TEXT = 4096  # Telegram's limit for a message's text
MAX_CALLBACK_DATA = 64  # bytes

# Button data: "v:<proposal id>:<option index>" votes, "u:<proposal id>" takes the vote back (on a
# ranked card: starts over); "r:<id>:<index>" adds the option to a ranking, "a:<id>:<index>" approves
# it or takes the approval back. The core checks all of it as it checks a typed vote (`refusal`).
_VOTE = re.compile(r"v:(\d{1,12}):(\d{1,2})")
_UNVOTE = re.compile(r"u:(\d{1,12})")
_CHOOSE = re.compile(r"([ra]):(\d{1,12}):(\d{1,2})")
HOW = {"r": "append", "a": "toggle"}
CHOOSING = {"ranked": "r", "approval": "a"}
# Telegram's stand-ins for senders it does not name: @GroupAnonymousBot (an anonymous admin) and
# @Channel_Bot (a channel, or a member "sending as" one). Everyone so hidden shares the one id.
STAND_INS = frozenset({1087968824, 136817688})


def vote_data(proposal_id: int, option: int) -> str:
    return f"v:{proposal_id}:{option}"


def unvote_data(proposal_id: int) -> str:
    return f"u:{proposal_id}"


def choose_data(method: str, proposal_id: int, option: int) -> str:
    return f"{CHOOSING[method]}:{proposal_id}:{option}"


def _cast(chat: ChatRef, sender: UserRef, data: str, eid: str) -> VoteCast | None:
    """The vote a button's data asks for, or None when it is not ours."""
    if match := _VOTE.fullmatch(data):
        return VoteCast(chat, sender, int(match.group(1)), int(match.group(2)), eid, alone=True)
    if match := _UNVOTE.fullmatch(data):
        return VoteCast(chat, sender, int(match.group(1)), None, eid, alone=True)
    if match := _CHOOSE.fullmatch(data):
        return VoteCast(chat, sender, int(match.group(2)), None, eid, choices=(int(match.group(3)),),
                        how=HOW[match.group(1)], alone=True)
    return None


def describe(update: object) -> str:
    """An update as a log line may name it: its id and its kind, never its content (a tap's data
    or a typed vote is a secret ballot's choice, and who sent it is beside it)."""
    if isinstance(update, Update):
        kinds = [kind for kind in ALLOWED_KINDS if getattr(update, kind, None) is not None]
        return f"update {update.update_id} ({', '.join(kinds) or 'other'})"
    if isinstance(update, dict):
        kinds = sorted(key for key in update if key != "update_id")
        return f"update {update.get('update_id')!r:.20} ({', '.join(k[:32] for k in kinds[:4]) or 'other'})"
    return f"not an update ({type(update).__name__})"


ALLOWED_KINDS = ("message", "edited_message", "callback_query", "my_chat_member", "chat_member", "channel_post")


def chat_ref(chat: Chat) -> ChatRef:
    return ChatRef(PLATFORM, str(chat.id), is_direct=chat.type == Chat.PRIVATE, title=chat.title or chat.full_name or "")


def user_ref(user: User) -> UserRef:
    return UserRef(PLATFORM, str(user.id), user.full_name or user.username or str(user.id))


def event_id(bot_id: int, update: Update) -> str:
    """The claim key of an update. Not its update_id alone: after a week without updates Telegram
    may count update ids again from a lower number, and every new update would then look handled.
    A message is named by its chat and message id, a tap by its callback query id; neither is ever
    reused, and a redelivered update carries the same. With the bot's id, keys stay unique if
    the token changes. An edit keeps its message's id: it is named by that message, its
    edit_date (update ids may be counted again) and its update_id (two edits within one second
    share an edit_date)."""
    if update.callback_query is not None:
        return f"{bot_id}:q:{update.callback_query.id}"
    if update.message is not None:
        return _message_key(bot_id, update.message)
    if (edited := update.edited_message) is not None:
        edit_date = int(edited.edit_date.timestamp()) if edited.edit_date else 0
        return f"{_message_key(bot_id, edited)}:e{edit_date}:{update.update_id}"
    return f"{bot_id}:{update.update_id}"


def _message_key(bot_id: int, message: Message) -> str:
    """A message's claim key, which an edit of it names as the message it corrects."""
    return f"{bot_id}:m:{message.chat.id}:{message.message_id}"


def message_of(update: Update) -> Message | None:
    """The message a command may be in: a new one, or a new version of one the bot has read."""
    return update.message or update.edited_message


def topic(message: Message) -> int | None:
    """The forum topic a message was sent in, for the answer to go there too. A chain of replies
    in a group also has a message_thread_id, but Telegram refuses to send to it."""
    return message.message_thread_id if message.is_topic_message else None


def _event_id(bot_id: int, update: dict) -> str:
    """`event_id` read from an update's JSON (a tap's or a message's; an edit is read by PTB)."""
    message, query = update.get("message"), update.get("callback_query")
    if query and query.get("id"):
        return f"{bot_id}:q:{query['id']}"
    if message and message.get("chat") and message.get("message_id") is not None:
        return f"{bot_id}:m:{message['chat']['id']}:{message['message_id']}"
    return f"{bot_id}:{update.get('update_id')}"


def _text_with_ids(message: Message) -> str:
    """A mention of someone without a username carries their id; the core names people by id. Each
    is replaced where Telegram says it stands, never by looking for its shown name in the text."""
    text = message.text or ""
    mentions = sorted((e for e in message.entities if e.type == MessageEntity.TEXT_MENTION and e.user is not None),
                      key=lambda e: e.offset, reverse=True)
    if not mentions:
        return text
    # Offsets count UTF-16 code units; replacing from the last keeps the earlier ones valid.
    units = text.encode("utf-16-le")
    end = len(units)
    for entity in mentions:
        start, stop = 2 * entity.offset, 2 * (entity.offset + entity.length)
        if 0 <= start <= stop <= end:  # one overlapping another, or out of the text, is left as written
            units, end = units[:start] + str(entity.user.id).encode("utf-16-le") + units[stop:], start
    return units.decode("utf-16-le", errors="replace")


def _impersonal(user: dict | None) -> bool:
    return user is None or bool(user.get("is_bot")) or user.get("id") in STAND_INS


def impersonal(update: Update) -> bool:
    """A message or tap sent in a chat's name (an anonymous admin, a channel: `sender_chat` set) or
    by a bot: no one person is behind it, so it must never act as a member or a steward."""
    message = message_of(update)
    if message is not None and message.sender_chat is not None:
        return True
    user = update.effective_user
    return _impersonal(user.to_dict() if user is not None else None)


def impersonal_json(update: dict) -> bool:
    """`impersonal` read from an update's JSON (a tap read without PTB's objects)."""
    if update.get("message", {}).get("sender_chat") is not None:
        return True
    entity = update.get("callback_query") or update.get("message") or {}
    return _impersonal(entity.get("from"))


def command(update: Update, bot_id: int) -> CommandReceived | None:
    """A message as a command; an edited message as the command that corrects the original."""
    message = message_of(update)
    if message is None or message.from_user is None or not message.text:
        return None
    corrects = _message_key(bot_id, message) if update.edited_message is not None else None
    return CommandReceived(chat_ref(message.chat), user_ref(message.from_user), _text_with_ids(message),
                           event_id(bot_id, update), corrects)


def tap(update: Update, bot_id: int) -> VoteCast | None:
    """The vote a button tap asks for, or None when its data is not ours (forged or stale)."""
    query = update.callback_query
    if query is None or query.data is None or query.message is None:
        return None
    chat, sender, eid = chat_ref(query.message.chat), user_ref(query.from_user), event_id(bot_id, update)
    return _cast(chat, sender, query.data, eid)


def _full_name(userlike: dict) -> str | None:
    first = userlike.get("first_name")
    if not first:
        return None
    return f"{first} {userlike['last_name']}" if userlike.get("last_name") else first


def tap_json(update: dict, bot_id: int) -> VoteCast | None:
    """`tap` read straight from an update's JSON: a burst of taps need not build PTB's objects
    (a Message alone sets some 250 attributes). None when it is not a tap this can read."""
    query = update.get("callback_query")
    data = query.get("data") if query else None
    message = query.get("message") if query else None
    if data is None or not message or "chat" not in message or "from" not in query or impersonal_json(update):
        return None  # PTB's path reads it (and refuses a tap no one person made)
    raw_chat, raw_user = message["chat"], query["from"]
    chat = ChatRef(PLATFORM, str(raw_chat["id"]), is_direct=raw_chat.get("type") == Chat.PRIVATE,
                   title=raw_chat.get("title") or _full_name(raw_chat) or "")
    sender = UserRef(PLATFORM, str(raw_user["id"]), _full_name(raw_user) or raw_user.get("username") or str(raw_user["id"]))
    return _cast(chat, sender, data, _event_id(bot_id, update))


def fit(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def keyboard(view: CardView, withdraw_label: str, start_over_label: str | None = None) -> InlineKeyboardMarkup | None:
    """One button per option (a row each, easy to hit on a phone) and one to take the vote back. On a
    ranked card each tap adds the option to the member's ranking and the last button starts over;
    on an approval card each tap approves the option or takes the approval back."""
    if not view.is_open:
        return None
    if view.method in CHOOSING:
        rows = [[InlineKeyboardButton(label, callback_data=choose_data(view.method, view.proposal_id, i))]
                for i, label in enumerate(view.options)]
        if view.method == "ranked" and start_over_label:
            withdraw_label = start_over_label
    else:
        rows = [[InlineKeyboardButton(label, callback_data=vote_data(view.proposal_id, i))]
                for i, label in enumerate(view.options)]
    rows.append([InlineKeyboardButton(withdraw_label, callback_data=unvote_data(view.proposal_id))])
    return InlineKeyboardMarkup(rows)
