"""Every sentence coopbot says, in one place, so wording can be reviewed and translated."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from storage.merkle import short
from handlers import i18n
from handlers.i18n import N_, _, translated
from handlers.money import format_amount
from handlers.tally import CONSENT_OPTIONS, DEFAULT_OPTIONS, DecisionRule, is_abstain, is_yes_no

# Announcements go to rooms on several platforms at once: they carry this mark where a command
# is named, and each adapter writes its own prefix ("/" or "!") in its place when it delivers.
# A control character, so no member can type it: parsing.clean strips them from all input.
PREFIX_MARK = "\x1f"


def for_platform(text: str, prefix: str) -> str:
    return text.replace(PREFIX_MARK, prefix)


PLATFORM_NAMES = {"telegram": "Telegram", "matrix": "Matrix", "console": "console"}


def platform_name(platform: str) -> str:
    return PLATFORM_NAMES.get(platform, platform)


def plural(count: int, one: str, many: str) -> str:
    """`1 member`, `3 members`: the count with the word that agrees with it, in the language's
    plural forms (pybabel extracts the two English words of every call as one message)."""
    return f"{i18n.number(count)} {i18n.ngettext(one, many, count)}"


def members(count: int) -> str:
    return plural(count, "member", "members")


def usage(name: str, args: str, keys: dict[str, str], body: str | None, prefix: str = "/") -> str:
    """A verb's usage line, from its declaration: the first line, each setting, what other lines are.
    The verb and the setting names are the same in every language; what they take is translated."""
    lines = [_("Usage: {command}").format(command=prefix + " ".join(part for part in (name, _(args) if args else "")
                                                                     if part))]
    lines += [f"  {key}: {_(hint)}" for key, hint in keys.items()]
    if body:
        lines.append(_("  (any other lines are {body})").format(body=_(body)))
    return "\n".join(lines)


def and_list(items: Sequence[str]) -> str:
    """`A`, `A and B`, `A, B and C`."""
    if len(items) == 1:
        return items[0]
    return _("{items} and {last}").format(items=", ".join(items[:-1]), last=items[-1])


def options_list(options: Sequence[str]) -> str:
    return ", ".join(f"{i}. {label}" for i, label in enumerate(option_labels(options), 1))


def help_list(verbs, prefix: str = "/") -> str:
    lines = [_("Commands (settings go on the lines after the first, as key: value):")]
    lines += [f"{prefix}{verb.name} — {_(verb.summary)}" for verb in verbs]
    lines.append(_("Say {prefix}help <command> for its usage.").format(prefix=prefix))
    return "\n".join(lines)


def help_verb(verb, prefix: str = "/") -> str:
    return f"{prefix}{verb.name} — {_(verb.summary)}\n" + verb.usage(prefix)


# --- languages ---
LANGUAGE_SET = N_("From now on, what is sent to you alone (tap answers, direct chats) is in {language}.")
LANGUAGE_COOP = N_("What is sent to you alone is in the co-op's language again ({language}).")
LANGUAGE_UNKNOWN = N_("I have no language '{text}': choose one of {languages}, or - for the co-op's.")
OWN_LANGUAGE = N_("What is sent to you alone is in {language} ({prefix}whoami with the line language: - for the co-op's).")
# The default ballot's options, stored in English: shown in the co-op's language, typed in either.
OPTION_WORDS = {"For": N_("For"), "Against": N_("Against"), "Abstain": N_("Abstain"), "Consent": N_("Consent")}


def default_ballot(options: Sequence[str]) -> bool:
    """The ballot the bot gives (For, Against, Abstain; Consent, Abstain): only its words are
    translated, so a ballot members wrote shows, and is typed, as they wrote it."""
    return tuple(options) in (DEFAULT_OPTIONS, CONSENT_OPTIONS)


def option_labels(options: Sequence[str]) -> list[str]:
    """The options as shown: the default ballot's in the language of the moment, others as typed."""
    return [_(OPTION_WORDS[label]) for label in options] if default_ballot(options) else list(options)


def _words(text: str) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in text.casefold()).split())


def is_sunset_title(title: str) -> bool:
    """A renewal is recognised by the sunset vote's title, in English or in any language the bot
    speaks (README gives the English; a co-op's members may write it in theirs), its words alone:
    `¿`, `?` and the spaces French puts before it are not asked for."""
    return _words(title) in {_words(said) for said in i18n.everywhere(SUNSET_TITLE)}


def bots_ballot(options: Sequence[str]) -> tuple[str, ...] | None:
    """The bot's own ballot, if `options` is it as written in one of the languages (`A favor | En
    contra | Abstención`): members who write the default ballot in their language get that ballot,
    counted For/Against with abstentions aside, not an election between three names."""
    typed = [o.casefold() for o in options]
    for ballot in (DEFAULT_OPTIONS, CONSENT_OPTIONS):
        if any(typed == [o.casefold() for o in i18n.within(code, option_labels, ballot)] for code in i18n.LANGUAGES):
            return ballot
    return None


def without_drill_mark(title: str) -> str:
    """A temptation's title without its DRILL mark, in whichever language it was marked."""
    for mark in i18n.everywhere(DRILL_MARK):
        if title.startswith(mark):
            return title.removeprefix(mark)
    return title


def firewall_kind(keys: Sequence[str]) -> str:
    return i18n.ngettext(
        "{keys} guards the co-op's firewalls: changing it is a protected decision (the members, the affiliated "
        "organisations and the golden share). Use kind: protected, or leave kind out.",
        "{keys} guard the co-op's firewalls: changing them is a protected decision (the members, the affiliated "
        "organisations and the golden share). Use kind: protected, or leave kind out.", len(keys)).format(keys=and_list(keys))


def option_names(options: Sequence[str], i: int, languages: Sequence[str]) -> set[str]:
    """Every way a member may type option `i`: as stored (English), and in each of `languages`."""
    return {options[i].casefold()} | {i18n.within(code, option_labels, options)[i].casefold() for code in languages}


# --- refusals and problems ---
UNKNOWN_VERB = N_("I don't know the command '{verb}'. Say {prefix}help for the list.")
UNKNOWN_VERB_GUESS = N_("I don't know the command '{verb}': did you mean {prefix}{guess}? Say {prefix}help for the list.")
TOO_LONG = N_("That message is too long ({length:,} characters; the limit is {limit:,}).")
REPEATED_SETTING = N_("The setting '{key}' is given twice.")
NO_EXTRA_LINES = N_("This command takes no extra lines.")
UNKNOWN_SETTING = N_("Unknown setting '{key}': did you mean '{guess}'?")
UNKNOWN_SETTING_TAKES = N_("Unknown setting '{key}'; this command takes: {keys}.")
MISSING_ARGUMENT = N_("Missing {what}.")
UNEXPECTED_ARGUMENT = N_("This command takes nothing after it.")
INTERNAL_ERROR = N_("Something went wrong on my side; nothing was changed. Please try again.")

NO_COOP = N_("This room has no co-op yet. Start one with {prefix}setup <co-op name>.")
NO_COOP_DIRECT = N_("This is a direct chat; co-op commands work in the co-op's group room.")
NOT_A_MEMBER = N_("Only members of {coop} can do that, and you are not on its register. Ask to be admitted with {prefix}join.")
NOT_AN_ALLY_ANY_MORE = N_("Your allyship with {coop} has ended (removed, or your organisation was disaffiliated): "
                        "you no longer speak for it here.")
NOT_A_MEMBER_PENDING = N_("Your request to join {coop} is waiting for a steward; you can do that once admitted.")
NOT_A_MEMBER_ALLY = N_("You are an ally of {coop} from {org}, not a member of {coop}: allies never vote or act as members.")
NOT_A_STEWARD = N_("Only a steward of {coop} can do that.")
NOT_THE_AUTHOR = N_("Only the author of #{number} ({author}) can {verb} it.")
MANDATED_AUTHOR = N_("the charter")
MANDATED = N_("#{number} is opened by the bot because the charter requires it: it cannot be withdrawn or closed early.")

SETUP_EXISTS = N_("This room already belongs to {coop}.")
ROOM_ONLY = N_("Send {prefix}{verb} in the co-op's group room, not in a direct chat.")
SETUP_NAME_TAKEN = N_("A co-op called {name} exists already. Choose another name, or bind this room to it with {prefix}bind <code>.")
NAME_TOO_LONG = N_("The {what} is too long ({length} characters; the limit is {limit}).")
SETUP_DONE = N_(
    "{coop} is set up, and you are its first steward.\n"
    "Members ask to join with {prefix}join; you admit them with {prefix}admit <member>.\n"
    "See the rules with {prefix}charter."
)

JOIN_ALREADY = N_("You are already a member of {coop}.")
JOIN_PENDING = N_("Your request to join {coop} is already waiting for a steward.")
JOIN_ALLY = N_("You are an ally of {coop} from {org}: allies do not join as members. "
             "To ask to join, be unallied first ({prefix}unally <you>).")
ADMIT_ALLY = N_("{name} is an ally of {coop} from {org}, and allies are not admitted as members: {prefix}unally {name} first.")
JOIN_REQUESTED = N_("{name} asks to join {coop}. A steward can admit them with {prefix}admit {name}.")

MEMBER_UNKNOWN = N_("No one called '{who}' has asked to join {coop}. Ask them to send {prefix}join in this room first.")
MEMBER_AMBIGUOUS = N_("More than one person is called '{who}': name them by their id ({ids}).")
ADMIT_ALREADY = N_("{name} is already a member of {coop}.")
ADMITTED = N_("{name} is admitted to {coop} as a {role}. The register now has {count}.")
ADMITTED_MANY = N_("Admitted to {coop} as {role}s: {names}. The register now has {count}.")
ADMIT_NONE_PENDING = N_("No one is waiting to join {coop}.")
ADMIT_ALL_ALONE = N_("'all' admits every pending request; name no one else with it.")
ADMIT_ROLE_ONE = N_("A role: line applies to one member at a time; admit the others without it.")
MEMBER_UNKNOWN_MANY = N_("No one called {who} has asked to join {coop}; no one was admitted. Ask them to send {prefix}join first.")
JOIN_NOTICE_MANY = N_(
    "{count} ask to join {coop}: {names}.\n"
    "A steward admits them all with {prefix}admit all, or some with {prefix}admit <name> <name> …"
)
JOIN_NOTICE_DONE = N_("Every request to join {coop} is answered: no one is waiting.")
NAMES_SHOWN = 40  # names listed in a coalesced notice or a batch's admission line; the rest counted
ROLE_CHANGED = N_("{name} is now a {role} of {coop}.")
BAD_ROLE = N_("A role is 'member' or 'steward', not '{role}'.")
REMOVE_NOT_MEMBER = N_("{name} is not on the register of {coop}.")
REMOVE_LAST_STEWARD = N_("{name} is the last steward of {coop}; admit another steward first.")
REMOVED = N_("{name} is removed from the register of {coop}. The register now has {count}.")

ROOMCODE = N_(
    "Room code: {code}\n"
    "In the room to bind (on any platform), send {prefix}bind {code} within {minutes} minutes."
)
BIND_EXISTS = N_("This room already belongs to {coop}.")
BIND_BAD_CODE = N_("That code is unknown or has expired. Ask a steward for a new {prefix}roomcode.")
BIND_NOT_STEWARD = N_(
    "Only a steward of {coop} can bind a room to it. If you are one on another platform, first send me "
    "{prefix}link there in a direct chat, then {prefix}link <code> here in a direct chat."
)
BOUND = N_("This room is now bound to {coop}. Its proposals and results will appear here too.")
DIRECT_ONLY = N_("Send {prefix}{verb} in a direct chat with me, so what it shows stays yours.")
LINK_NOT_MEMBER = N_("You are on no co-op's register, so there is nothing to link yet.")
LINK_CODE = N_(
    "Link code: {code}\n"
    "From your other account (on another platform), send me link {code} in a direct chat within "
    "{minutes} minutes, then confirm here with {prefix}link yes.\n"
    "Show it to no one: a code shown anywhere but a direct chat is void."
)
LINK_BAD_CODE = N_("That link code is unknown or has expired. Send link from your other account for a new one.")
LINK_SELF = N_("That code was made by this same account; send it from your other one.")
LINK_SAME_PLATFORM = N_(
    "That code was made by another {platform} account. Link joins one person's accounts on different "
    "platforms (a Telegram and a Matrix account); it never joins two accounts on one platform."
)
LINK_CONFLICT = N_("This account is already on the register of {coop} as {name}; a steward must remove it first.")
LINK_ASKED = N_(
    "Asked. Now confirm from your {platform} account: send {prefix}link yes in its direct chat with me "
    "within {minutes} minutes. Nothing changes until then."
)
# To the issuer's direct chat, when someone redeems their code (an outbox message).
LINK_ASK_NOTICE = N_(
    "The {platform} account {who} ({name}) asks to speak and vote as you ({member}) in {coops}.\n"
    "If that is your own account, send {mark}link yes here within {minutes} minutes. If it is not "
    "yours, do nothing: it gets nothing, and your code is spent."
)
LINK_NOTHING_TO_CONFIRM = N_(
    "No link is waiting for your confirmation (a request lasts {minutes} minutes). Send {prefix}link for "
    "a new code."
)
LINK_AMBIGUOUS = N_(
    "Two accounts asked to link with yours, so I linked neither. Send {prefix}link for a new code, "
    "and show it to no one."
)
LINK_VOID = N_(
    "That link code was shown outside a direct chat, so it is now void and no one can use it. "
    "Send {prefix}link in a direct chat with me for a new one, and keep it there."
)
LINKED = N_("Linked: the {platform} account {who} now speaks and votes as {name} in {coops}.")
# To the account that asked, in its direct chat, once the issuer confirmed (an outbox message).
LINKED_NOTICE = N_("Linked: this account now speaks and votes as {name} in {coops}.")

BAD_KIND = N_("A kind is ordinary, strategic or constitutional, not '{kind}'.")
BAD_BALLOT = N_("A ballot is open or secret, not '{ballot}'.")
BAD_CLOSES = N_("I can't read the closing time '{text}'. Write a duration (30m, 48h, 7d) or a time like 2026-12-01 18:00.")
CLOSES_PAST = N_("The closing time {when} has already passed.")
CLOSES_TOO_SOON = N_("A proposal must stay open for at least {minimum}.")
CLOSES_TOO_LATE = N_("A proposal can stay open for at most {maximum}.")
BAD_OPTIONS_COUNT = N_("A proposal needs between {low} and {high} options, separated by |.")
BAD_OPTION_LENGTH = N_("An option can be at most {limit} characters long.")
DUPLICATE_OPTION = N_("The option '{option}' is given twice.")
NO_TITLE = N_("A proposal needs a title on its first line.")

PROPOSAL_UNKNOWN = N_("There is no proposal #{number} in {coop}.")
BAD_NUMBER = N_("'{text}' is not a proposal number (write #3 or 3).")
OPTION_UNKNOWN = N_("#{number} has no option '{option}'. Its options are: {options}.")
NOT_OPEN = N_("#{number} is {status}; its votes can no longer change.")
ALREADY_ENDED = N_("#{number} is already {status}.")
VOTING_ENDED = N_("Voting on #{number} ended at {when}; the result is being counted.")
NOT_ELECTOR = N_("You joined {coop} after #{number} opened, so you are not on its frozen register.")
VOTE_RECORDED = N_("Recorded: {option} on #{number}.")
# Edits of a message the bot has read.
FROM_EDIT = N_("From your edit: {text}")
EDIT_DONE = N_(
    "Your edit changes nothing: the command in that message was already carried out. To do something "
    "more, send a new message (for example {prefix}help)."
)
EDIT_UNKNOWN = N_(
    "Your edit changes nothing: I have no record of a command in that message (it was not one, or it is "
    "older than a week). Send the command as a new message."
)
EDIT_PROPOSAL_ONLY = N_(
    "That message opened #{number}; an edit of it can only change the proposal ({prefix}propose …). "
    "Send anything else as a new message."
)
EDIT_NOT_YOURS = N_("Only the author of #{number} can change it.")
EDIT_CALLED_IN = N_("#{number} was called in as a protected decision by the golden share: it can no longer be edited "
                  "(its author may still withdraw it with {prefix}withdraw {number}).")
EDIT_VOTED = N_(
    "#{number} was not changed: members have already voted on it. To change it, withdraw it "
    "({prefix}withdraw {number} <reason>) and propose again."
)
EDIT_CONSENT = N_("#{number} was not changed by your edit: members have voted on it or objected to it. Give it a new "
                "text with {prefix}revise {number} and the text on the lines below: they are told, and decide again.")
PROPOSAL_REVISED = N_("#{number} is changed as your edit says; its card shows it now.")
VOTE_CHANGED = N_("Changed: {option} on #{number} (was {previous}).")
VOTE_SAME = N_("Already recorded: {option} on #{number}.")
VOTE_SECRET_PUBLIC = N_("Your vote on #{number} is recorded (secret ballot).")
VOTE_HIDDEN_PUBLIC = N_("Your vote on #{number} is recorded (results hidden until the close).")
UNVOTED = N_("Your vote on #{number} is withdrawn.")
UNVOTE_NONE = N_("You have no vote on #{number} to withdraw.")
# Why a vote is refused, by the reason `handlers.votes.refusal` gives: the same words for a typed
# vote, a button and a poll response.
VOTE_REFUSED = {
    "no_coop": NO_COOP,
    "no_coop_direct": NO_COOP_DIRECT,
    "not_member": NOT_A_MEMBER,
    "pending": NOT_A_MEMBER_PENDING,
    "ally": N_("You are an ally of {coop}: allies do not vote on the co-op's proposals."),
    "unknown_proposal": N_("That button belongs to no proposal of this co-op."),
    "no_option": N_("#{number} has no option '{option}'. Its options are: {options}."),
    "not_open": NOT_OPEN,
    "voting_ended": VOTING_ENDED,
    "reason_secret": N_("#{number} is a secret ballot: a reason kept with your vote would tell your choice. Vote without "
                     "the reason: line."),
    "revised": N_("#{number} was changed by its author after you voted, so that vote is not counted. "
               "Its options now: {options}. Please vote again."),
    "not_elector": NOT_ELECTOR,
    "nothing_to_withdraw": UNVOTE_NONE,
    "choices_method": N_("#{number} is decided by one choice, not a ranking: {prefix}vote {number} <option>."),
    "ranking_needed": N_("#{number} is decided by {method}: {how}"),
    "duplicate_choice": N_("You named an option twice for #{number}: name each once. Its options are: {options}."),
}
# How to vote on a ranked or approval proposal (the refusal of a single choice, and the card).
RANKED_HOW = N_("rank the options, most preferred first: {prefix}vote {number} B A C (names or numbers; names with spaces separated by |).")
APPROVAL_HOW = N_("choose every option you approve: {prefix}vote {number} A C (names or numbers; names with spaces separated by |).")
METHOD_WORDS = {"vote": N_("a vote"), "consent": N_("consent"), "ranked": N_("ranked choice"), "approval": N_("approval voting")}
VOTE_RANKED = N_("Your ranking on #{number}: {ranking}.")
VOTE_APPROVED = N_("You approve on #{number}: {approved}.")
# The same, by option numbers, when the names would not fit a tap's answer.
VOTE_RANKED_SHORT = N_("Your ranking on #{number}, by option number: {ranking}.")
VOTE_APPROVED_SHORT = N_("You approve on #{number} options {approved}.")
RANKED_START_OVER = N_("Start over")

WITHDRAW_BUTTON = N_("Take my vote back")
# Matrix: Element counts a poll's responses itself. Votes typed with the vote command never reach the
# poll, and a response the bot refused stays in it unless the bot may remove it, so the poll, the card
# and the result say which count is the co-op's.
POLL_QUESTION = N_("{title} (the official count is the card above; votes typed with {prefix}vote count too)")
CARD_POLL_NOTE = N_("The official count is this card's tally; it includes votes typed with {prefix}vote, which the poll does not show.")
RESULT_POLL_NOTE = N_(
    "This is the official count: it includes votes typed with {prefix}vote, which the poll does not show, "
    "and no refused poll answers."
)
POLL_ANSWER_REMOVED = N_("Your answer is removed from the poll.")
POLL_ANSWER_SHOWN = N_("The poll still shows your answer, but it is not in the official count (the card's tally).")
ADDED_TO_ROOM = N_(
    "Hello! I run this co-op's decisions: proposals, one member one vote, results.\n"
    "To start, a founding member sends {prefix}setup <co-op name>. To add this room to an existing co-op, "
    "a steward sends {prefix}roomcode there and {prefix}bind <code> here. {prefix}help lists everything."
)
BUTTON_INVALID = N_("That button is not valid.")
# Telegram: an anonymous admin or a channel posts under one shared stand-in; a bot is no member.
SPEAK_AS_YOURSELF = N_(
    "I cannot tell who sent that: it came from an anonymous admin, a channel or a bot, and everyone "
    "sending that way looks the same to me. Please send it again as yourself (turn off \"Remain "
    "anonymous\" in your admin rights, or choose your own account instead of the channel), or write "
    "to me in a direct chat."
)
SPEAK_AS_YOURSELF_TAP = N_("I cannot tell who tapped that. Please vote as yourself, not anonymously or as a channel.")
# The terminal chat (`coopbot console`): its greeting and prompts, and what it says of lines
# coopbot does not read.
CONSOLE_INTRO = N_(
    "coopbot console — room '{room}', speaking as '{speaker}'. Start with /help or /setup <name>.\n"
    "Type 'name: text' to speak as someone else. A command that takes more lines ({verbs}) stays open "
    "at the '...' prompt: indent each further line. An empty line sends it (after indented lines, two "
    "empty lines: one alone is kept, as a paragraph break); so does the next unindented line. "
    "Ctrl-D quits."
)
CONSOLE_PROMPT = "> "
CONSOLE_MORE = "... "
CONSOLE_NOT_A_COMMAND = N_(
    "(coopbot only reads commands, which start with /. To continue a command on more lines, type "
    "them indented while it is open, at the '...' prompt.)"
)
NO_OPEN_PROPOSALS = N_("No open proposals in {coop}. Start one with {prefix}propose <title>.")

STATUS_WORDS = {"open": N_("open"), "closed": N_("closed"), "withdrawn": N_("withdrawn"),
                "counting": N_("being counted (its voting time has ended)")}
KIND_WORDS = {"ordinary": N_("ordinary"), "strategic": N_("strategic"), "constitutional": N_("constitutional"),
              "protected": N_("protected")}
BALLOT_WORDS = {"open": N_("open ballot"), "secret": N_("secret ballot")}
ROLE_WORDS = {"member": N_("member"), "steward": N_("steward")}


# --- formatting helpers ---
def when(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return i18n.moment(local) + " " + (local.tzname() or tz.key)


def span(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    text = " ".join(p for p in parts if p)
    return text or f"{seconds}s"


def ratio(value: Fraction) -> str:
    """A cap as written: `1 : 3`, `1 : 4.5`."""
    return f"1 : {value.numerator}" if value.denominator == 1 else f"1 : {float(value):.1f}"


def measured_ratio(value: Fraction, past: Fraction | None = None) -> str:
    """A ratio of pay, to one decimal, half up; a ratio `past` a cap is rounded up instead when half
    up would show it at or under the cap (3.003 against 3 is 1 : 3.1, never 1 : 3.0)."""
    tenths = (value * 10 + Fraction(1, 2)) // 1
    if past is not None and value > past and Fraction(tenths, 10) <= past:
        tenths = -((-value * 10) // 1)
    return f"1 : {tenths // 10}.{tenths % 10}"


def percent(value: Fraction) -> str:
    number = float(value) * 100
    return i18n.percent(float(value), 0 if abs(number - round(number)) < 0.05 else 1)


def threshold_words(rule) -> str:
    return threshold_of(rule.threshold, rule.strict)


def threshold_of(share: Fraction, strict: bool) -> str:
    if share == 1 and not strict:
        return _(THRESHOLD_ALL)
    return (_(THRESHOLD_MORE_THAN) if strict else _(THRESHOLD_AT_LEAST)).format(fraction=_fraction(share))


THRESHOLD_ALL = N_("all")
THRESHOLD_MORE_THAN = N_("more than {fraction}")
THRESHOLD_AT_LEAST = N_("at least {fraction}")


def _fraction(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def share_of(options: Sequence[str]) -> str:
    if is_yes_no(options):  # the two options, as the card shows them
        return "{} + {}".format(*option_labels(options)[:2])
    return _("the votes cast, abstentions aside")


def counts_line(options: Sequence[str], counts: Sequence[int]) -> str:
    return " · ".join(f"{label} {n}" for label, n in zip(option_labels(options), counts))


def options_line(options: Sequence[str]) -> str:
    return " · ".join(f"{i}. {label}" for i, label in enumerate(option_labels(options), 1))


CARD_BODY = 1500


def action_lines(action: dict | None) -> list[str]:
    """What a proposal would change if it passes, as its card says."""
    if not action:
        return []
    if "drill" in action:
        return [_(DRILL_CARD).format(number=action["drill"])]
    if "amend" in action:
        if "changes" not in action:  # proposed before cards showed before and after
            return [_(AMEND_CARD)] + [f"• {said}" for said in action.get("said", [])]
        return [_(AMEND_CARD)] + [f"• {name}: {before} → {after}" for name, before, after in action["changes"]]
    if "waive" in action:
        return [_(WAIVE_CARD).format(name=action["name"] if "name" in action else _(WAIVE_CARD_SOMEONE),
                                     number=action.get("round", "?"))]
    if "affiliate" in action:
        return [_(AFFILIATE_CARD).format(org=action["affiliate"])]
    if "disaffiliate" in action:
        return [_(DISAFFILIATE_CARD).format(org=action["disaffiliate"])]
    return []


AMEND_CARD = N_("If passed, the charter changes:")
WAIVE_CARD = N_("If passed, {name}'s vow for round {number} is waived.")
WAIVE_CARD_SOMEONE = N_("a member")  # a waiver recorded without the member's name
AFFILIATE_CARD = N_("If passed, {org} becomes an affiliated organisation: its people may be added as allies (allies never vote).")
DISAFFILIATE_CARD = N_("If passed, {org} is disaffiliated, and every ally of it lapses.")


def proposal_card(p, tz: ZoneInfo, author: str, rule, tally: Sequence[int] | None, voters: int, prefix: str,
                  how: str = "") -> str:
    """A new proposal, as announced in every bound room (and shown by `show`)."""
    lines = [_(CARD_TITLE).format(number=p.number, title=p.title),
             _(CARD_BYLINE).format(author=author, kind=translated(KIND_WORDS)[p.kind],
                                   ballot=translated(BALLOT_WORDS)[p.ballot])]
    if p.body:
        # The card is read in a chat: a long text is cut there (the export carries all of it).
        body = p.body if len(p.body) <= CARD_BODY else p.body[: CARD_BODY - 1].rstrip() + "…"
        lines += ["", body, ""]
    lines += action_lines(p.action) + audit_lines(p.action)
    lines.append(_(CARD_OPTIONS).format(options=options_line(p.options)))
    method = getattr(p, "method", "vote")
    if method == "consent":
        lines.append(_(CONSENT_RULE).format(quorum=percent(rule.quorum), members=members(p.electorate_size)))
    elif method == "ranked":
        lines.append(_(RANKED_CARD).format(quorum=percent(rule.quorum), electorate=members(p.electorate_size),
                                        count=_(STV_WORDS).format(seats=p.seats) if p.seats else _(IRV_WORDS)))
    elif method == "approval":
        lines.append(_(APPROVAL_CARD).format(quorum=percent(rule.quorum), electorate=members(p.electorate_size),
                                          threshold=threshold_words(rule)))
    else:
        lines.append(_(CARD_RULE).format(quorum=percent(rule.quorum), electorate=members(p.electorate_size),
                                         threshold=threshold_words(rule), share=share_of(p.options)))
    if p.status == "open":
        lines.append(_(CARD_CLOSES).format(when=when(p.closes_at, tz)))
        if tally is not None and method in translated(SO_FAR):
            lines.append(translated(SO_FAR)[method].format(counts=counts_line(p.options, tally), voters=voters,
                                               electorate=p.electorate_size))
        elif tally is not None:
            lines.append(_(CARD_SO_FAR).format(counts=counts_line(p.options, tally), voters=voters,
                                               electorate=p.electorate_size))
        elif p.ballot == "open":
            lines.append(_(CARD_SO_FAR_HIDDEN).format(voters=voters, electorate=p.electorate_size))
        else:
            lines.append(_(CARD_SO_FAR_SECRET).format(voters=voters, electorate=p.electorate_size))
        if p.method == "consent":
            lines.append(_(CONSENT_HOW).format(prefix=prefix, number=p.number))
        else:
            lines.append(how[:1].upper() + how[1:] if how else _(CARD_HOW).format(prefix=prefix, number=p.number))
    return "\n".join(lines)


CARD_TITLE = N_("Proposal #{number}: {title}")
CARD_BYLINE = N_("by {author} · {kind} · {ballot}")
CARD_OPTIONS = N_("Options: {options}")
CARD_RULE = N_("Quorum {quorum} of {electorate}; passes with {threshold} of {share}.")
CARD_CLOSES = N_("Closes {when}.")
CARD_SO_FAR = N_("So far: {counts} ({voters} of {electorate} voted).")
CARD_SO_FAR_HIDDEN = N_("So far: {voters} of {electorate} voted (results hidden until the close).")
CARD_SO_FAR_SECRET = N_("So far: {voters} of {electorate} voted (secret ballot: counts at close).")
CARD_HOW = N_("Vote with {prefix}vote {number} <option>.")


# --- ranked choice and approval ---
RANKED_CARD = N_("Ranked choice: {count}. Quorum {quorum} of {electorate}; ties in a round go by the draw announced below.")
IRV_WORDS = N_("instant runoff (one option chosen; the last is excluded and its ballots go to their next choice, until one has a majority)")
STV_WORDS = N_("{seats} options elected by single transferable vote (Droop quota)")
APPROVAL_CARD = N_("Approval voting: approve as many options as you like; the most approved is chosen if {threshold} of "
                 "the voters approve it. Quorum {quorum} of {electorate}.")
SO_FAR = {
    "ranked": N_("So far, first preferences: {counts} ({voters} of {electorate} voted; the rounds are counted at the close)."),
    "approval": N_("So far, approvals: {counts} ({voters} of {electorate} voted)."),
}
TIE_DRAW_PURPOSE = N_("tie-break order of proposal #{number}")
COUNT_WAITS_DRAW = N_("Voting on #{number} has ended. The count waits for its tie-break draw D{draw} at {when}; the "
                    "result follows.")
ROUND_STATUS = {"elected": N_(" elected"), "excluded": N_(" out"), "hopeful": ""}


def _votes(n: int | str) -> str:
    """A round's count: whole, or a surplus's fraction to two places."""
    return str(n) if isinstance(n, int) else f"{float(n):.2f}"


# The rounds of a ranked result, in characters, beyond which they name the options by number: ten
# labels of 60 characters over nine rounds would run the result past one Telegram message (4,096).
ROUNDS_BUDGET = 2000


def _rounds(rounds: list[dict], names: Sequence[str]) -> list[str]:
    """Each round names what changed in it (elected, out); an option out is not shown again."""
    lines, before = [], ["hopeful"] * len(names)
    for n, r in enumerate(rounds, 1):
        cells = [f"{names[i]} {_votes(v)}{translated(ROUND_STATUS)[r['status'][i]] if r['status'][i] != before[i] else ''}"
                 for i, v in enumerate(r["votes"]) if before[i] != "excluded"]
        if r["exhausted"]:
            lines.append(_(ROUND_LINE_EXHAUSTED).format(number=n, cells=" · ".join(cells),
                                                        exhausted=_votes(r["exhausted"])))
        else:
            lines.append(_(ROUND_LINE).format(number=n, cells=" · ".join(cells)))
        before = r["status"]
    return lines


ROUND_LINE = N_("Round {number}: {cells}")
ROUND_LINE_EXHAUSTED = N_("Round {number}: {cells}; exhausted {exhausted}")


def ranked_result(p, result: dict, *, ended_early_by: str | None = None, reason: str | None = None) -> str:
    """A ranked or approval count: the verdict, each round (ranked) or the approvals, turnout."""
    rule = DecisionRule.from_json(result["rule"])
    voters, electorate = result["voters"], result["electorate"]
    why = translated(REASONS).get(result["reason"], result["reason"])
    lines = []
    if result["method"] == "ranked":
        if result["passed"]:
            lines.append(_(RESULT_ELECTED).format(number=p.number, title=p.title,
                                                  elected=and_list([p.options[i] for i in result["elected"]])))
        else:
            lines.append(_(RESULT_FAILED).format(number=p.number, title=p.title, reason=why))
        seats = result.get("seats") or 1
        if seats > 1:
            counted = i18n.ngettext("Counted by single transferable vote for {seats} seat.",
                                    "Counted by single transferable vote for {seats} seats.", seats)
            if result.get("draw"):
                counted = i18n.ngettext("Counted by single transferable vote for {seats} seat; ties went by draw D{draw}.",
                                        "Counted by single transferable vote for {seats} seats; ties went by draw D{draw}.",
                                        seats)
        else:
            counted = _("Counted by instant runoff; ties went by draw D{draw}.") if result.get("draw") \
                else _("Counted by instant runoff.")
        lines.append(counted.format(seats=seats, draw=result.get("draw")))
        if result["rounds"] and len(result["elected"]) < seats:
            empty = seats - len(result["elected"])
            lines.append(i18n.ngettext("{count} seat stays empty: no other option was ranked on any ballot.",
                                       "{count} seats stay empty: no other option was ranked on any ballot.",
                                       empty).format(count=i18n.number(empty)))
        rounds = _rounds(result["rounds"], p.options)
        if sum(len(line) + 1 for line in rounds) > ROUNDS_BUDGET:
            # Long labels over many rounds: the rounds name the options by number, under a key.
            lines.append(_(CARD_OPTIONS).format(options=" · ".join(f"({i}) {label}" for i, label in enumerate(p.options, 1))))
            rounds = _rounds(result["rounds"], [f"({i})" for i in range(1, len(p.options) + 1)])
        lines.extend(rounds)
        if not result["rounds"]:
            lines.append(_("No rankings were cast."))
    else:
        if result["passed"]:
            lines.append(_(RESULT_PASSED).format(number=p.number, title=p.title))
            lines.append(_(RESULT_CHOSEN).format(option=p.options[result["winner"]] if result["winner"] is not None
                                                 else None))
        else:
            lines.append(_(RESULT_FAILED).format(number=p.number, title=p.title, reason=why))
        # The English says "voters" for one voter too (it always has): both forms, for the languages that differ.
        lines.append(i18n.ngettext("Approvals: {counts} (of {voters} voters).", "Approvals: {counts} (of {voters} voters).",
                                   voters).format(counts=counts_line(p.options, result["counts"]), voters=voters))
        if result["reason"] == "tie":
            lines.append(_("Support: a tie for most approved between {options}, at {support} of the voters each; "
                           "nothing is chosen.").format(options=and_list([p.options[i] for i in result["leaders"]]),
                                                         support=percent(Fraction(result["support"]))))
        elif result["support"] is not None and result["leaders"]:
            lines.append(_("Support: {support} of the voters approve {option}; threshold {threshold}.").format(
                support=percent(Fraction(result["support"])), option=p.options[result["leaders"][0]],
                threshold=threshold_words(rule)))
    turnout = Fraction(voters, electorate) if electorate else Fraction(0)
    lines.append(translated(TURNOUT)[rule.meets_quorum(voters, electorate)].format(
        voters=voters, electorate=electorate, share=percent(turnout), quorum=percent(rule.quorum)))
    if ended_early_by:
        lines.append(closed_early(ended_early_by, reason))
    return "\n".join(lines)


RESULT_PASSED = N_("Result of #{number} {title}: passed.")
RESULT_FAILED = N_("Result of #{number} {title}: failed ({reason}).")
RESULT_ELECTED = N_("Result of #{number} {title}: elected {elected}.")
RESULT_CHOSEN = N_("Chosen: {option}.")
TURNOUT = {True: N_("Turnout: {voters} of {electorate} ({share}); quorum {quorum} met."),
           False: N_("Turnout: {voters} of {electorate} ({share}); quorum {quorum} not met.")}
CLOSED_EARLY = N_("Closed early by {name}.")
CLOSED_EARLY_BECAUSE = N_("Closed early by {name}: {reason}.")


def closed_early(name: str, reason: str | None) -> str:
    """The line a result ends with when its author or a steward closed it before its time."""
    return (_(CLOSED_EARLY_BECAUSE) if reason else _(CLOSED_EARLY)).format(name=name, reason=reason)


REASONS = {
    "objection": N_("an objection stands"),
    "golden": N_("its organisation came to hold the golden share: only a protected decision disaffiliates it"),
    "veto": N_("vetoed by the golden share"),
    "bodies": N_("too few affiliated organisations consented"),
    "quorum": N_("quorum not met"),
    "threshold": N_("threshold not met"),
    "tie": N_("tie between the leading options"),
}


def result(p, outcome, tz: ZoneInfo, *, ended_early_by: str | None = None, reason: str | None = None) -> str:
    """The result announcement: #N, passed/failed and why, counts, turnout, quorum, threshold."""
    rule = outcome.rule
    if outcome.passed:
        lines = [_(RESULT_PASSED).format(number=p.number, title=p.title)]
    else:
        lines = [_(RESULT_FAILED).format(number=p.number, title=p.title, reason=translated(REASONS)[outcome.reason])]
    if outcome.passed and not is_yes_no(p.options):
        lines.append(_(RESULT_CHOSEN).format(option=option_labels(p.options)[outcome.winner]))
    lines.append(_("Votes: {counts}.").format(counts=counts_line(p.options, outcome.counts)))
    turnout = Fraction(outcome.voters, outcome.electorate) if outcome.electorate else Fraction(0)
    lines.append(translated(TURNOUT)[rule.meets_quorum(outcome.voters, outcome.electorate)].format(
        voters=outcome.voters, electorate=outcome.electorate, share=percent(turnout), quorum=percent(rule.quorum)))
    if outcome.support is not None and outcome.winner is None:
        best = max(outcome.counts[i] for i, label in enumerate(p.options) if not is_abstain(label))
        tied = [shown for label, shown, n in zip(p.options, option_labels(p.options), outcome.counts)
                if n == best and not is_abstain(label)]
        lines.append(_("Support: a tie at {support} each between {options} of {share}; threshold {threshold}.").format(
            support=percent(outcome.support), options=and_list(tied), share=share_of(p.options),
            threshold=threshold_words(rule)))
    elif outcome.support is not None and is_yes_no(p.options):
        lines.append(_("Support: {support} of {share}; threshold {threshold}.").format(
            support=percent(outcome.support), share=share_of(p.options), threshold=threshold_words(rule)))
    elif outcome.support is not None:
        lines.append(_("Support: {support} for {option} of {share}; threshold {threshold}.").format(
            support=percent(outcome.support), option=p.options[outcome.winner], share=share_of(p.options),
            threshold=threshold_words(rule)))
    else:
        lines.append(_("Support: no votes other than abstentions; threshold {threshold}.").format(
            threshold=threshold_words(rule)))
    if ended_early_by:
        lines.append(closed_early(ended_early_by, reason))
    return "\n".join(lines)


# --- protected decisions (SPEC "Firewalls") ---
PROTECTED_CARD = N_("Protected decision: besides the members' quorum and threshold above, it needs {bodies} of the "
                  "{count} affiliated organisations to consent (their allies: {prefix}consent {number} yes|no; the "
                  "last word of each counts), and no veto from {golden}.")
PROTECTED_CARD_NO_BODIES = N_("Protected decision: no organisation was affiliated when it became protected, so the "
                            "members decide it with the quorum and threshold above, unless {golden} vetoes it.")
GOLDEN_HELD = N_("the golden share ({holder})")
GOLDEN_UNHELD = N_("the golden share (no organisation holds it now)")
PROTECTED_CALLED_IN = N_("Called in as protected by {name} for {org} (the golden share) on {when}.")
PROTECTED_SO_FAR = N_("Organisations so far: {voices}.")
PROTECTED_VOICE = {True: N_("{org} yes"), False: N_("{org} no"), None: N_("{org} not yet")}
PROTECTED_LAPSED = N_("{org} (disaffiliated since: no voice)")
PROTECTED_VETOED = N_("Vetoed by {name} for {org} (the golden share): {reason}")
PROTECTED_RESULT_BODIES = N_("Organisations: {yes} of {count} consented{names}; needed {threshold}: {met}.")
PROTECTED_RESULT_NO_BODIES = N_("Organisations: none was affiliated when it became protected; the members decided.")
PROTECTED_RESULT_AGAINST = N_("Said no: {names}.")
PROTECTED_RESULT_SILENT = N_("Did not say: {names}.")
PROTECTED_RESULT_LAPSED = N_("Disaffiliated before the count (no voice): {names}.")
PROTECTED_RESULT_NO_VETO = N_("Veto: none.")
# Whether a quorum or the organisations' threshold is met, where a message has a {met} in it.
MET_WORDS = {True: N_("met"), False: N_("not met")}


def _voice(v) -> str:
    return translated(PROTECTED_VOICE)[v.yes].format(org=v.org) if v.counted else _(PROTECTED_LAPSED).format(org=v.org)


def protected_card(p, voices, holder: str | None, tz: ZoneInfo, prefix: str) -> str:
    """What an open protected proposal's card adds: the organisations' part so far, and the veto."""
    threshold = threshold_of(Fraction(p.protection["threshold"][0]), bool(p.protection["threshold"][1]))
    frozen = p.protection.get("bodies") or []
    golden = _(GOLDEN_HELD).format(holder=holder) if holder else _(GOLDEN_UNHELD)
    if frozen:
        lines = [_(PROTECTED_CARD).format(bodies=threshold, count=len(frozen), prefix=prefix, number=p.number,
                                       golden=golden)]
        lines.append(_(PROTECTED_SO_FAR).format(voices="; ".join(_voice(v) for v in voices)))
    else:
        lines = [_(PROTECTED_CARD_NO_BODIES).format(golden=golden)]
    if by := p.protection.get("by"):
        lines.append(_(PROTECTED_CALLED_IN).format(name=by["name"], org=by["org"],
                                                when=when(datetime.fromisoformat(p.protection["since"]), tz)))
    if p.veto:
        lines.append(_(PROTECTED_VETOED).format(**p.veto) + ".")
    return "\n".join(lines)


def protected_result(result: dict) -> str:
    """The organisations' part and the veto, as a protected decision's result says them."""
    bodies, lines = result["bodies"], []
    if bodies["frozen"]:
        names = f" ({and_list(bodies['yes'])})" if bodies["yes"] else ""
        threshold = threshold_of(Fraction(bodies["threshold"][0]), bool(bodies["threshold"][1]))
        lines.append(_(PROTECTED_RESULT_BODIES).format(yes=len(bodies["yes"]), count=bodies["frozen"], names=names,
                                                    threshold=threshold, met=translated(MET_WORDS)[bool(bodies["met"])]))
        for key, words in (("no", _(PROTECTED_RESULT_AGAINST)), ("silent", _(PROTECTED_RESULT_SILENT)),
                           ("lapsed", _(PROTECTED_RESULT_LAPSED))):
            if bodies[key]:
                lines.append(words.format(names=and_list(bodies[key])))
    else:
        lines.append(_(PROTECTED_RESULT_NO_BODIES))
    veto = result.get("veto")
    lines.append(_(PROTECTED_VETOED).format(**veto) + "." if veto else _(PROTECTED_RESULT_NO_VETO))
    return "\n".join(lines)


# --- consent decisions (SPEC third set: `method: consent`) ---
CONSENT_RULE = N_("Decided by consent: quorum {quorum} of {members} (consents, abstentions and objections all count); "
                "it passes if no objection stands.")
CONSENT_HOW = N_("To decide: consent with {prefix}vote {number} consent (or {prefix}vote {number} abstain), or object "
               "with {prefix}object {number} <reason>.")
CONSENT_REVISED = N_("Text revised by its author on {when} (revision {revision} of {most}); votes given before were cleared.")
OBJECTIONS_HEAD = N_("Objections standing ({count}):")
OBJECTIONS_NONE = N_("No objection stands.")
OBJECTION_LINE = N_("• {name}: {reason}")
OBJECTIONS_MORE = N_("… and {more} more (the export has them all)")
OBJECTIONS_SHOWN = 10  # the oldest objections a card lists by name
OBJECTIONS_BUDGET = 900  # their characters: a card (with `show`'s reasons) stays one Telegram message
CONSENT_VOTES = N_("Votes: {counts}; objections standing: {objections}.")
CONSENT_TURNOUT = N_("Turnout: {voters} of {electorate} ({share}) consented, abstained or objected; quorum {quorum} {met}.")
OBJECT_NO_REASON = N_("Say why you object, on the same line: {prefix}object <#> <reason> (the reason is shown on the card).")
OBJECT_NOT_CONSENT = N_("#{number} is decided by {method}, not by consent, so it takes no objections. Vote on it with "
                      "{prefix}vote {number} <option> and say why in a reason: line under the vote.")
OBJECT_NOT_ELECTOR = N_("Only members on #{number}'s frozen register (the members when it opened) can object to it.")
OBJECTION_RAISED = N_("Your objection to #{number} is recorded and shown on its card: {reason}\nWhile it stands, "
                    "#{number} cannot pass. Withdraw it with {prefix}unobject {number}.")
OBJECTION_RESTATED = N_("Your objection to #{number} now reads: {reason}\n(It replaces the reason you gave before.) "
                      "Withdraw it with {prefix}unobject {number}.")
VOTE_OBJECTION_STANDS = N_("Your objection to #{number} still stands: it cannot pass while it does "
                         "({prefix}unobject {number} withdraws it).")
UNOBJECT_NONE = N_("You have no objection standing to #{number}: nothing to withdraw.")
OBJECTION_WITHDRAWN = N_("Your objection to #{number} is withdrawn.")
REVISE_NOT_CONSENT = N_("Only a consent proposal is revised with {prefix}revise; #{number} is decided by {method}. While "
                      "nobody has voted on it, edit the message that opened it; otherwise withdraw it "
                      "({prefix}withdraw {number} <reason>) and propose again.")
REVISE_NO_TEXT = N_("Write the new text on the lines under the command: {prefix}revise {number}, then the text.")
REVISE_SETTINGS = N_("A revision changes only the text of #{number}; its {keys} stay as they are. Leave those lines "
                   "out (to change them, withdraw it with {prefix}withdraw {number} <reason> and propose again).")
REVISE_SAME = N_("#{number} already says that: nothing was revised.")
REVISE_TOO_MANY = N_("#{number} has been revised {most} times, the most a proposal may be. Withdraw it "
                   "({prefix}withdraw {number} <reason>) and propose again.")
REVISED_DONE = N_("#{number} is revised (revision {revision} of {most}); its card shows the new text.")
REVISED_ROOM = N_("{name} revised #{number} {title} (revision {revision} of {most}); its card shows the new text.")
REVISED_ROOM_CLEARED = N_("Votes given to the old text are cleared: {names}, please decide again "
                        "({prefix}vote {number} consent, or {prefix}object {number} <reason>).")
REVISED_ROOM_OBJECTIONS = N_("Objections still stand: {names}, does the new text meet your objection? If it does, "
                           "withdraw it with {prefix}unobject {number}.")
REVISED_ROOM_CLOSES = N_("It now closes {when}, a day after the revision.")
REVISED_NAMES_BUDGET = 1200  # characters of names in each of the room's lists: the announcement stays one message
REVISE_TOO_LATE = N_("#{number} cannot be revised any more: a revision gives the members a day to decide again, and "
                   "#{number} is too close to its latest close ({when}, a year after it opened). Withdraw it "
                   "({prefix}withdraw {number} <reason>) and propose again.")
REVISED_DIRECT_VOTE = N_("{name} revised #{number} {title} in {coop}: your vote ({option}) was for the old text and is "
                       "cleared. Read the new text ({prefix}show {number}) and decide again.")
REVISED_DIRECT_OBJECTION = N_("{name} revised #{number} {title} in {coop}: your objection still stands ({reason}). If "
                            "the new text meets it, withdraw it with {prefix}unobject {number}.")


def objection_lines(objections: Sequence[dict]) -> list[str]:
    """The objections that stand, by name with their reasons, oldest first, as many as fit."""
    lines = [_(OBJECTION_LINE).format(name=o["name"], reason=o["reason"]) for o in objections[:OBJECTIONS_SHOWN]]
    while sum(len(line) + 1 for line in lines) > OBJECTIONS_BUDGET:
        lines.pop()
    more = len(objections) - len(lines)
    return [_(OBJECTIONS_HEAD).format(count=len(objections)), *lines] + ([_(OBJECTIONS_MORE).format(more=more)] if more else [])


def consent_card(p, objections: Sequence[dict], revision: int, most: int, tz: ZoneInfo) -> str:
    """What an open consent proposal's card adds: the objections that stand, and its revision."""
    lines = objection_lines(objections) if objections else [_(OBJECTIONS_NONE)]
    if revision and p.revised_at is not None:
        lines.append(_(CONSENT_REVISED).format(when=when(p.revised_at, tz), revision=revision, most=most))
    return "\n".join(lines)


def consent_result(p, result: dict, *, ended_early_by: str | None = None, reason: str | None = None) -> str:
    """A consent proposal's result: passed or failed and why, counts, who voted or objected
    against the quorum, and the objections that stood."""
    rule = result["rule"]
    quorum = Fraction(rule["quorum"])
    if result["passed"]:
        verdict = _(RESULT_PASSED).format(number=p.number, title=p.title)
    else:
        verdict = _(RESULT_FAILED).format(number=p.number, title=p.title, reason=translated(REASONS)[result["reason"]])
    voters, electorate = result["voters"], result["electorate"]
    share = Fraction(voters, electorate) if electorate else Fraction(0)
    met = translated(MET_WORDS)[bool(electorate and share >= quorum)]
    objections = result.get("objections", [])
    lines = [verdict,
             _(CONSENT_VOTES).format(counts=counts_line(p.options, result["counts"]), objections=len(objections)),
             _(CONSENT_TURNOUT).format(voters=voters, electorate=electorate, share=percent(share), quorum=percent(quorum),
                                    met=met)]
    if objections:
        lines += objection_lines(objections)
    if ended_early_by:
        lines.append(closed_early(ended_early_by, reason))
    return "\n".join(lines)


CONSENT_BAD = N_("Say yes or no: consent <#> yes|no.")
CONSENT_MEMBERS_VOTE = N_("Members vote on #{number} with {prefix}vote {number} <option>; consent is an affiliated "
                        "organisation's voice, given by its allies.")
CONSENT_NOT_ALLY = N_("Only an ally of an affiliated organisation of {coop} speaks for it.")
CONSENT_NOT_FROZEN = N_("{org} was not affiliated when #{number} became protected, so it has no voice on it (as a "
                      "member admitted later has no vote).")
NOT_PROTECTED = N_("#{number} is not a protected decision: organisations consent and the golden share vetoes only those.")
CONSENT_GIVEN = {True: N_("{org} consents to #{number} {title}."), False: N_("{org} does not consent to #{number} {title}.")}
CONSENT_CHANGED = N_(" (This replaces what {org} said before.)")
NO_GOLDEN_SHARE = N_("{coop} has no golden share: no organisation holds it (a protected amendment golden_share = <organisation> sets it).")
NOT_GOLDEN_HOLDER = N_("Only an ally of {holder}, which holds the golden share of {coop}, can {verb}.")
VETO_NO_REASON = N_("A veto needs its reason: veto <#> <reason>.")
VETO_ALREADY = N_("#{number} is vetoed already.")
VETO_ANNOUNCED = N_("#{number} {title} is vetoed by {name} for {org}, which holds the golden share: {reason}. "
                  "It cannot pass; voting has ended and it is counted now.")
VETO_DONE = N_("You vetoed #{number} for {org}; every room is told, and it is counted now.")
PROTECT_ALREADY = N_("#{number} is a protected decision already.")
PROTECT_MANDATED = N_("#{number} is a vote the charter itself calls; it cannot be called in.")
PROTECT_ANNOUNCED = N_("#{number} {title} is called in as a protected decision by {name} for {org}, which holds the "
                     "golden share. It now passes only with quorum {quorum} and {threshold} of members, {bodies} of the "
                     "{count} affiliated organisations consenting, and no veto; it stays open until {closes}.")
PROTECT_DONE = N_("#{number} is now a protected decision; every room is told.")


def withdrawn(p, author: str, reason: str | None) -> str:
    if reason:
        return _(WITHDRAWN_BECAUSE).format(number=p.number, title=p.title, author=author, reason=reason)
    return _(WITHDRAWN).format(number=p.number, title=p.title, author=author)


WITHDRAWN = N_("#{number} {title} is withdrawn by {author}. No result is counted.")
WITHDRAWN_BECAUSE = N_("#{number} {title} is withdrawn by {author}: {reason}. No result is counted.")


def proposals_list(items, tz: ZoneInfo, now: datetime, coop: str) -> str:
    lines = [_(OPEN_PROPOSALS_HEAD).format(coop=coop)]
    for p, voted in items:
        lines.append(translated(OPEN_PROPOSAL_LINE)[bool(voted)].format(
            number=p.number, title=p.title, left=span(p.closes_at - now), when=when(p.closes_at, tz)))
    return "\n".join(lines)


OPEN_PROPOSALS_HEAD = N_("Open proposals in {coop}:")
OPEN_PROPOSAL_LINE = {True: N_("#{number} {title} — closes in {left} ({when}); you voted"),
                      False: N_("#{number} {title} — closes in {left} ({when}); you have not voted")}


def names_within(names: Sequence[str], budget: int) -> str:
    """`A, B and C`, or as many names as fit in `budget` characters and how many more."""
    if sum(len(n) + 2 for n in names) <= budget:
        return and_list(list(names))
    shown, used = [], 0
    for name in names:
        if used + len(name) + 2 > budget and shown:
            break
        shown.append(name)
        used += len(name) + 2
    return _(NAMES_AND_MORE).format(names=", ".join(shown), more=len(names) - len(shown))


NAMES_AND_MORE = N_("{names} and {more} more")


def names_list(names: list[str], total: int | None = None) -> str:
    """`a, b, c and 37 more`: at most NAMES_SHOWN names, so a batch of thousands stays one short message."""
    total = len(names) if total is None else total
    shown = ", ".join(names[:NAMES_SHOWN])
    if total > min(len(names), NAMES_SHOWN):
        return _(NAMES_AND_MORE).format(names=shown, more=total - min(len(names), NAMES_SHOWN))
    return shown


def join_notice(coop: str, names: list[str], total: int, prefix: str) -> str:
    """The room's one coalesced message about requests to join (`names`: the newest first)."""
    if total == 0:
        return _(JOIN_NOTICE_DONE).format(coop=coop)
    if total == 1:
        return _(JOIN_REQUESTED).format(name=names[0], coop=coop, prefix=prefix)
    return _(JOIN_NOTICE_MANY).format(count=plural(total, "person", "people"), coop=coop,
                                   names=names_list(names, total), prefix=prefix)


def members_list(coop: str, active, pending) -> str:
    lines = [_(REGISTER_HEAD).format(coop=coop, members=members(len(active)))]
    lines += [_(REGISTER_STEWARD).format(name=m.display_name) if m.role == "steward" else f"• {m.display_name}"
              for m in active]
    if pending:
        lines.append(_(REGISTER_PENDING).format(names=", ".join(m.display_name for m in pending)))
    return "\n".join(lines)


REGISTER_HEAD = N_("Register of {coop} ({members}):")
REGISTER_STEWARD = N_("• {name} (steward)")
REGISTER_PENDING = N_("Waiting to be admitted: {names}")


def whoami(coop: str | None, name: str, standing: str | None, prefix: str, org: str | None = None) -> str:
    if coop is None:
        return _(NO_COOP).format(prefix=prefix)
    return translated(WHOAMI)[standing].format(name=name, coop=coop, org=org, prefix=prefix)


WHOAMI = {
    "steward": N_("You are {name}, a steward of {coop}."),
    "member": N_("You are {name}, a member of {coop}."),
    "pending": N_("This room belongs to {coop}. Your request to join is waiting for a steward."),
    "removed": N_("This room belongs to {coop}. You were removed from its register."),
    "ally": N_("You are {name}, an ally of {coop} from {org}: you speak here, and never vote."),
    None: N_("This room belongs to {coop}. You are not on its register; ask to join with {prefix}join."),
}


def charter(coop: str, c) -> str:
    """Every charter key, in the table's order, with its words and the name to amend it by."""
    lines = [_(CHARTER_HEAD).format(coop=coop)]
    lines += [(_(CHARTER_FIREWALL_LINE) if key.firewall else _(CHARTER_LINE)).format(
        words=translated(CHARTER_WORDS)[key.name].format(value=value), key=key.name) for key, value in c.shown()]
    lines += [_(CHARTER_FOOT), _(CHARTER_FIREWALLS), _(CHARTER_ENTRENCHED)]
    return "\n".join(lines)


# --- schedules: reminders, the calendar, the mandate ---
DEADLINE_REMINDER = N_(
    "Reminder: #{number} {title} closes in {left} ({when}).\n"
    "{missing} of {electorate} members have not voted yet; {quorum_line}\n"
    "Vote with {prefix}vote {number} <option>."
)
QUORUM_NEEDS = N_("quorum needs {votes}.")
QUORUM_REACHED = N_("quorum is reached.")
BAD_RESULTS = N_("results: is shown or hidden ('{text}' given).")
BAD_METHOD = N_("method: is vote, consent, ranked or approval ('{text}' given).")
METHOD_PROTECTED = N_("A protected decision is voted For or Against: method: is vote (the default) there.")
METHOD_ACTION = N_("A proposal that changes something (an amendment, a waiver, an affiliation, a revision, the sunset "
                 "vote) is voted For or Against: leave out method:.")
CONSENT_OWN_OPTIONS = N_("A consent proposal has its own options (Consent and Abstain; objections are raised with object): "
                   "leave out options:.")
CONSENT_SECRET = N_("A consent proposal is decided in the open: objections are reasoned and shown on its card. Leave out "
                  "ballot: secret, or use method: vote for a secret ballot.")
METHOD_OPTIONS = N_("method: {method} chooses among options: add a line such as options: Ana | Ben | Chloe.")
SEATS_RANKED = N_("seats: is for method: ranked (an STV election of that many options).")
BAD_SEATS = N_("seats: is a whole number from 1 to {most}, fewer than the options ('{text}' given).")
REASONS_HEAD = N_("Reasons given with votes:")
REASON_LINE = N_("• {name} ({option}): {reason}")
REASONS_MORE = N_("… and {more} more (the JSON export, coopbot export, has them all)")
CHOICES_HEAD = {"ranked": N_("Rankings so far:"), "approval": N_("Approvals so far:")}
CHOICES_LINE = N_("• {name}: {choices}")
CHOICES_JOIN = {"ranked": " > ", "approval": ", "}
REVISE_METHOD = N_("#{number} was proposed with method: {method}; a revision keeps its method (propose anew to change it).")
REVISE_RANKED_OPTIONS = N_("#{number}'s options were announced with its tie-break draw D{draw}: a revision keeps "
                         "them (withdraw it and propose anew to change them).")
REMIND_ROOM = N_("Reminder from {name}: #{number} {title} closes in {left} ({when}); {missing} of {electorate} members "
               "have not voted yet. Vote with {prefix}vote {number} <option>.")
REMIND_DIRECT = N_("{name} reminds you: you have not voted on #{number} {title} in {coop}; it closes in {left} ({when}).")
REMIND_WHO = N_("Only the author of #{number} or a steward can remind those who have not voted.")
REMIND_TOO_SOON = N_("#{number}'s non-voters were reminded at {when}; they can be reminded again from {again}.")
REMIND_NOBODY = N_("Everyone on #{number}'s register has voted: nobody to remind.")
REMIND_DONE = N_("{count} who have not voted on #{number} are reminded, in the rooms and directly where I can write to them.")
DEADLINE_DIRECT = N_("You have not voted on #{number} {title} in {coop}; it closes in {left} ({when}).")
AUDIT_REMINDER = N_(
    "Liberation audit of {coop} in {left} ({when}). Allies from affiliated struggles review wage ratios, "
    "supply chains, governance and political spending; their verdict is published."
)
SUNSET_TITLE = N_("Renew the co-op's mandate?")
SUNSET_BODY = N_(
    "The charter requires a re-founding vote every {months} months: renewal must be earned, not assumed. "
    "If it fails, the co-op's mandate lapses until a renewal passes."
)
MANDATE_LAPSED = N_("The co-op's mandate has lapsed; it stands lapsed until a renewal vote passes.")
MANDATE_RENEWED = N_("The co-op's mandate is renewed.")
MANDATE_STANDING = N_("The mandate of {coop} lapsed on {when}; a renewal vote ({title}) must pass.")
CLOSED_LATE = N_("Closed late: the bot was not running at the closing time ({when}).")
UNCHECKED = N_(
    "Counted without a last look at {platforms}: it could not be reached for {grace} after the closing "
    "time, so votes made there that the bot had not yet received are not in this count."
)
COUNT_WAITS = N_(
    "Voting on #{number} has ended. The count waits until the votes made on {platforms} up to now are in "
    "(at most {grace}); the result follows."
)


def calendar_text(coop: str, tz_name: str, items: list[tuple[datetime, str]], tz: ZoneInfo, lapsed: str | None) -> str:
    lines = [_(CALENDAR_HEAD).format(coop=coop, zone=tz_name)]
    lines += [f"• {when(at, tz)} — {what}" for at, what in sorted(items, key=lambda item: item[0])]
    if lapsed:
        lines.append(lapsed)
    return "\n".join(lines)


CALENDAR_HEAD = N_("Calendar of {coop} (times in {zone}):")
CALENDAR_CLOSES = N_("voting on #{number} {title} closes")
CALENDAR_REMINDER = N_("reminder to vote on #{number}")
CALENDAR_AUDIT = N_("liberation audit (reminders {offsets} before)")
CALENDAR_SUNSET = N_("sunset vote opens: {title}")
CALENDAR_CLOSED = N_("voting on #{number} {title} closed")
CALENDAR_CLOSED_EARLY = N_("voting on #{number} {title} closed early")
CALENDAR_WITHDRAWN = N_("#{number} {title} was withdrawn")
ICS_CALENDAR_NAME = N_("{coop}: governance calendar")
CALENDAR_FEED = N_("Your phone's calendar can subscribe to this one, kept up to date: {url}\n"
                 "Keep it to the co-op's members: whoever has it can read the calendar "
                 "(a steward's {prefix}calendar revoke makes a new one).")
CALENDAR_FEED_IN_DIRECT = N_("For a feed your phone's calendar can subscribe to, ask me {prefix}calendar in a direct chat.")
CALENDAR_FEED_REVOKED = N_("The calendar feed of {coop} is revoked: its URL serves nothing any more. "
                         "{prefix}calendar in a direct chat gives the new one.")
CALENDAR_NO_FEED = N_("{coop} has no calendar feed to revoke.")
CALENDAR_FEED_RENEWED = N_("{name} revoked the calendar feed of {coop}: a phone subscribed to it gets no more "
                         "updates. {prefix}calendar in a direct chat gives the new URL.")
FEED_NOT_FOUND = N_("No such calendar.\n")  # the feed server's answer to a wrong token, a revoked one alike
REMOVED_FEED = N_("The co-op has a calendar feed: if {name} subscribed to it, they can still read the calendar "
                "until a steward's {prefix}calendar revoke makes a new URL.")


# --- vows before dividends ---
AMOUNT_PROBLEMS = {
    "not_a_number": N_("'{text}' is not an amount: write digits, like 1250.50 or 1,250.50."),
    "negative": N_("A surplus cannot be negative."),
    "zero": N_("A surplus must be more than zero."),
    "too_large": N_("That amount is larger than any surplus coopbot accepts (a typo?)."),
    "too_precise": N_("{currency} has {units} decimal places; '{text}' has more."),
    "currency": N_("'{text}' is not a currency code (three letters, like EUR or USD)."),
}
AMEND_KIND = N_("Changing the charter is a constitutional decision: use kind: constitutional (or leave kind out).")
GOLDEN_DISAFFILIATE_KIND = N_("{org} holds the golden share: disaffiliating it is a protected decision. Use kind: "
                            "protected, or leave kind out.")
GOLDEN_NOT_AFFILIATED = N_("The golden share goes to an affiliated organisation; {org} is not one. Affiliated now: {orgs}.")
PROTECTED_TOO_SOON = N_("A protected decision stays open at least {minimum}, so the affiliated organisations can "
                      "consent: it could close {earliest} at the earliest.")
PROTECTED_CLOSE_EARLY = N_("#{number} is a protected decision: it stays open at least until {when}, so the "
                         "affiliated organisations can consent. It cannot be closed before then.")
BAD_AMENDMENT = N_("That amendment cannot be made: {problem}.")
AMENDED = N_("The charter is amended: {changes}.")
ROUND_OPEN = N_("Round {number} is still open; pay it out before opening another.")
NO_ROUND = N_("There is no open surplus round. A steward opens one with {prefix}surplus <amount>.")
NOT_OWED = N_("You are not owed a share in round {number}, so you have no vow to make for it.")
VOW_EMPTY = N_("A vow needs words: say how your share will serve collective struggle.")
VOW_TOO_LONG = N_("A vow can be at most {limit} characters ({length} given).")
BAD_HOURS = N_("Hours are written name=hours, separated by |, for every member on the register ({problem}).")
BAD_PAYOUT_DATE = N_("I can't read the payout date '{text}'. Write a date like 2026-12-20.")
ALREADY_PAID = N_("Round {number} is already paid out.")
PAID_ON = N_("Round {number} was paid out on {when}; a steward opens the next with {prefix}surplus <amount>.")
FORFEITED_SHARE = N_("share of {name}, forfeited when removed")
SHARE_FORFEITED = N_("Their unpaid share of round {number} ({amount}) goes to the movement funds, for good.")
WAIVE_NOT_ALLOWED = N_("This co-op's charter does not allow waiving a vow.")
WAIVE_NO_ROUND = N_("There is no open surplus round, so there is no vow to waive. A steward opens one with {prefix}surplus <amount>.")
ACTION_OPTIONS = N_("A proposal that changes the charter, renews the mandate, waives a vow or (dis)affiliates an "
                  "organisation is decided For or Against: give it no options.")
WAIVE_KIND = N_("A waiver is decided by its own proposal; give it no custom options.")
ROUNDING_RULE = N_("Shares are rounded down to the smallest unit of {currency}; what rounding leaves goes to the movement funds.")


def round_opened(r, coop: str, funds, shares, names, tz: ZoneInfo, fmt) -> str:
    lines = [_(ROUND_OPENED).format(number=r.number, coop=coop, amount=fmt(r.amount))]
    movement = sum(a for _, a in funds)
    lines.append(_(ROUND_MOVEMENT).format(share=percent(Fraction(r.movement_share)), amount=fmt(movement)))
    lines += [f"• {name}: {fmt(amount)}" for name, amount in funds]
    lines.append(translated(ROUND_MEMBERS)[r.member_split == "equal"].format(amount=fmt(sum(a for _, a in shares))))
    lines += [f"• {names[m]}: {fmt(amount)}" for m, amount in shares]
    lines.append(_(ROUNDING_RULE).format(currency=r.currency))
    if r.payout_at:
        lines.append(_(ROUND_PAYOUT_DATE).format(when=when(r.payout_at, tz)))
    lines.append(_(ROUND_VOW_FIRST).format(prefix=PREFIX_MARK))
    return "\n".join(lines)


ROUND_OPENED = N_("Surplus round {number} of {coop}: {amount}.")
ROUND_MOVEMENT = N_("Movement funds first ({share} share, with rounding): {amount}")
ROUND_MEMBERS = {True: N_("Members (equal shares): {amount}"), False: N_("Members (by recorded hours): {amount}")}
ROUND_PAYOUT_DATE = N_("Payout date: {when}.")
ROUND_VOW_FIRST = N_("Before any payout, each member owed a share declares a vow: {prefix}vow <how your share will serve "
                     "collective struggle>.")


def vowed(name: str, number: int, text: str, restated: bool) -> str:
    return (_(VOW_RESTATED) if restated else _(VOW_MADE)).format(name=name, number=number, text=text)


VOW_MADE = N_("{name} vows, for round {number}: {text}")
VOW_RESTATED = N_("{name} restates their vow for round {number}: {text}")


def vows_list(number: int, vowed_names: list[tuple[str, str]], missing: list[str], waived: list[str]) -> str:
    lines = [_(VOWS_HEAD).format(number=number, made=len(vowed_names), missing=len(missing))]
    lines += [f"• {name}: {text}" for name, text in vowed_names]
    if waived:
        lines.append(_(VOWS_WAIVED).format(names=", ".join(waived)))
    if missing:
        lines.append(_(VOWS_MISSING).format(names=", ".join(missing)))
    return "\n".join(lines)


VOWS_HEAD = N_("Vows for round {number}: {made} made, {missing} still to come.")
VOWS_WAIVED = N_("Waived by the co-op: {names}")
VOWS_MISSING = N_("Not yet vowed: {names}")


def paid_out(r, fmt) -> str:
    return _(ROUND_PAID_OUT).format(number=r.number, amount=fmt(r.amount), prefix=PREFIX_MARK)


ROUND_PAID_OUT = N_("Round {number} is paid out: {amount}, as allocated. The books are open to every member: {prefix}books.")


VOW_REMINDER = N_("Round {number}: {owed} not vowed yet: {names}. Vow with {prefix}vow <text>.")
VOW_DIRECT = N_("You have not yet vowed for surplus round {number} of {coop}. Say how your share will serve collective struggle: {prefix}vow <text>.")


def books(coop: str, entries: list[dict], tz: ZoneInfo) -> str:
    """The open books: each round with its funds and shares and how they add up, then totals per
    currency (paid to members: only rounds paid out)."""
    lines, by_currency = [_(BOOKS_HEAD).format(coop=coop)], {}
    for e in entries:
        r = e["round"]
        fmt = lambda minor: format_amount(minor, r.currency)  # noqa: E731 (one round's currency)
        funds_total, shares_total = sum(a for _, a in e["funds"]), sum(a for _, a, _ in e["shares"])
        if r.status == "paid":
            lines.append(_(BOOKS_ROUND_PAID).format(number=r.number, opened=when(r.opened_at, tz), amount=fmt(r.amount),
                                                    paid=when(r.paid_at, tz)))
        else:
            lines.append(_(BOOKS_ROUND_OPEN).format(number=r.number, opened=when(r.opened_at, tz), amount=fmt(r.amount)))
        lines += ["  " + _(BOOKS_FUND).format(name=name, amount=fmt(a)) for name, a in e["funds"]]
        lines += ["  " + (_(BOOKS_SHARE_HOURS) if h else _(BOOKS_SHARE)).format(name=name, amount=fmt(a), hours=h)
                  for name, a, h in e["shares"]]
        lines.append("  " + _(BOOKS_SUM).format(funds=fmt(funds_total), members=fmt(shares_total),
                                                total=fmt(funds_total + shares_total)))
        totals = by_currency.setdefault(r.currency, [0, 0, 0, 0])
        totals[0] += r.amount
        totals[1] += funds_total
        totals[2 if r.status == "paid" else 3] += shares_total
    lines.append(_(BOOKS_TOTALS).format(totals="; ".join(
        (_(BOOKS_TOTAL_UNPAID) if t[3] else _(BOOKS_TOTAL)).format(
            total=format_amount(t[0], c), funds=format_amount(t[1], c), paid=format_amount(t[2], c),
            unpaid=format_amount(t[3], c))
        for c, t in by_currency.items())))
    return "\n".join(lines)


BOOKS_HEAD = N_("Open books of {coop}:")
BOOKS_ROUND_PAID = N_("Round {number} ({opened}): {amount}, paid out {paid}")
BOOKS_ROUND_OPEN = N_("Round {number} ({opened}): {amount}, open, not paid out")
BOOKS_FUND = N_("fund · {name}: {amount}")
BOOKS_SHARE = N_("share · {name}: {amount}")
BOOKS_SHARE_HOURS = N_("share · {name}: {amount} ({hours} h)")
BOOKS_SUM = N_("= funds {funds} + members {members} = {total}")
BOOKS_TOTALS = N_("Totals: {totals}.")
BOOKS_TOTAL = N_("{total} in all: {funds} to the movement funds, {paid} paid to members")
BOOKS_TOTAL_UNPAID = N_("{total} in all: {funds} to the movement funds, {paid} paid to members, {unpaid} not yet paid out")


def payout_refused(missing: list[str]) -> str:
    return i18n.ngettext("No payout yet: {count} member owed a share has not vowed: {names}.",
                         "No payout yet: {count} members owed a share have not vowed: {names}.",
                         len(missing)).format(count=i18n.number(len(missing)), names=", ".join(missing))


# --- the minutes ---
# How an announcement ends: the minutes' size and the start of their head, which members witness.
MINUTES_HEAD = N_("Minutes {size} · {head}")


def head_text(size: int, root: bytes) -> str:
    return _(MINUTES_HEAD).format(size=size, head=short(root))


MINUTES_NOW = N_("Minutes of {coop}: {size} records.\nHead: {root}")
MINUTES_EMPTY = N_("Minutes of {coop}: nothing recorded yet.")
MINUTES_POSTED = N_("Last head announced: {head}")
MINUTES_WITNESSED = N_("Last head witnessed: {head} ({count} witnessed by members)")
MINUTES_NONE_WITNESSED = N_("No member has witnessed a head yet: witness <first 8+ characters of a head> when you see one.")
MINUTES_HOW = N_(
    "To check them without trusting the bot: ask for the export (coopbot export --format json), then run "
    "coopbot verify on it, or the short verifier in the README (\"Checking the minutes\"). It recomputes every "
    "record's hash and the head, and checks every head the bot announced or a member witnessed."
)
WITNESSED = N_("Witnessed: you saw the minutes of {coop} at {size} records, head {head}.")
WITNESS_SHORT = N_("Give at least {least} characters of the head, as announced (e.g. witness 3f2a9c01).")
WITNESS_NOT_HEX = N_("A head is hexadecimal (0-9, a-f): {prefix} is not.")
WITNESS_NEVER = N_("The bot never announced a head of {coop}'s minutes starting with {prefix}. Check the announcement again.")
WITNESS_AMBIGUOUS = N_("More than one announced head starts with {prefix}: give more of it.")


# --- the charter: what `charter` says of each key, and why an amendment is refused ---
# One entry per key of handlers.charter.KEYS, in words; {value} is the key's value as shown.
CHARTER_HEAD = N_("Charter of {coop} (change a rule with a proposal line amend: key = value):")
CHARTER_LINE = N_("• {words}  [{key}]")
CHARTER_FIREWALL_LINE = N_("• {words}  [{key}, firewall]")
CHARTER_FOOT = N_("Abstentions count toward quorum, not toward the threshold.")
CHARTER_FIREWALLS = N_("Keys marked firewall change only by a protected proposal: the protected quorum and threshold "
                     "of members, the affiliated organisations' consent, and no veto from the golden share.")
CHARTER_ENTRENCHED = N_("One member, one vote: every member's vote counts the same, and no key weights votes by "
                      "shares, pay, role or seniority; no amendment can add one.")
CHARTER_WORDS = {
    "quorum.ordinary": N_("ordinary: quorum {value} of the register"),
    "threshold.ordinary": N_("ordinary: passes with {value}"),
    "quorum.strategic": N_("strategic: quorum {value} of the register"),
    "threshold.strategic": N_("strategic: passes with {value}"),
    "quorum.constitutional": N_("constitutional: quorum {value} of the register"),
    "threshold.constitutional": N_("constitutional: passes with {value}"),
    "quorum.protected": N_("protected: quorum {value} of the register"),
    "threshold.protected": N_("protected: passes with {value}"),
    "voting_period": N_("Voting period: {value} unless a proposal says otherwise."),
    "reminder_offsets": N_("Deadline reminders: {value} before closing."),
    "audit_every": N_("Liberation audit every {value} from founding."),
    "audit_reminders": N_("Audit reminders: {value} before each audit."),
    "sunset_every": N_("Sunset vote every {value} from founding."),
    "audit_auditors": N_("Each audit draws {value} from the allies, one per organisation."),
    "audit_window": N_("Auditors give their verdicts within {value} of being drawn."),
    "audit_cooldown": N_("Whoever audited in the last {value} is not drawn again."),
    "revision_days": N_("A reformist verdict's revision must pass within {value}, or an emergency assembly is convened."),
    "assembly_notice": N_("An emergency assembly is announced {value} ahead."),
    "movement_share": N_("Movement share of surplus: {value}."),
    "movement_funds": N_("Movement funds: {value}."),
    "member_split": N_("Members' part: {value}."),
    "currency": N_("Currency: {value}."),
    "vow_waiver": N_("Vow waivers: {value}."),
    "vow_reminders": N_("Vow reminders: {value} before a payout date."),
    "vow_every": N_("Without a payout date, vow reminders every {value}."),
    "timezone": N_("Timezone: {value}."),
    "language": N_("Language: {value} (a member may choose their own with a language: line on whoami)."),
    "wage_ratio_cap": N_("Wage-ratio cap: highest to lowest hourly pay at most {value}."),
    "full_time_hours": N_("Monthly pay converts to hourly at {value} a month."),
    "open_pay": N_("Pay: {value}."),
    "bodies_threshold": N_("A protected decision needs {value} of the affiliated organisations to consent."),
    "golden_share": N_("Golden share (veto over protected decisions): {value}."),
    "mirror_every": N_("Mirror shift every {value} from founding."),
    "mirror_formats": N_("Mirror shift formats, one drawn each time (never the last used): {value}."),
    "facilitator_cooldown": N_("Whoever facilitated one of the last {value} is not drawn to facilitate again."),
    "drill_every": N_("Adversary drill every {value} from founding."),
    "drill_team": N_("Each drill's red team: {value}, drawn by lot."),
    "drill_days": N_("A drill's red team tempts for {value}."),
    "proxies": N_("Proxies: {value}."),
    "proxy_limit": N_("One member may hold proxies for at most {value} at once."),
}
HALF_WORDS = ("half", "half the register")  # typed in amendments: the same words in every language
HALF_THE_REGISTER = N_("half the register's number of shifts")
SPLIT_WORDS = {"equal": N_("equal shares"), "hours": N_("by recorded hours")}
WAIVER_WORDS = {True: N_("a passed proposal may waive one member's vow"), False: N_("no vow may be waived")}
PROXIES_WORDS = {True: N_("a member may let another vote for them (never on protected decisions)"),
                 False: N_("none, every member votes for themselves")}
OPEN_PAY_WORDS = {True: N_("open, every member sees everyone's"), False: N_("closed, members see the ratio and their own")}
FUND_WEIGHT = N_("{name} (weight {weight})")
THRESHOLD_ALL_WORDS = ("all", "unanimous", "unanimity")  # typed: the same words in every language

AMEND_NOT_KEY_VALUE = N_("'{text}' is not key = value")
AMEND_NOTHING = N_("nothing to amend")
AMEND_UNKNOWN_KEY = N_("the charter has no key '{key}'{guess}; its keys are: {keys}")
AMEND_GUESS = N_(" (did you mean {guess}?)")
AMEND_KEY_TWICE = N_("{key} is given twice")
AMEND_BOUND = N_("{key} must be from {low} to {high}")
AMEND_NOT_RATIO = N_("'{text}' is not a ratio (write 3 or 1:3, one decimal at most)")
AMEND_EACH_BOUND = N_("each of {key} must be from {low} to {high}")
AMEND_TOO_MANY = N_("{key} takes at most {most} offsets ({count} given)")
AMEND_OFFSET_TWICE = N_("{key} gives {offset} twice")
AMEND_NOT_SHARE = N_("'{text}' is not a share (write 30% or 3/10)")
AMEND_NOT_THRESHOLD = N_("'{text}' is not a threshold (write more than 1/2, at least 2/3, or all)")
AMEND_NOT_DURATION = N_("'{text}' is not one duration (write 72h or 3d)")
AMEND_NOT_DURATIONS = N_("'{text}' is not a list of durations (write 24h, 1h)")
AMEND_NOT_WHOLE = N_("'{text}' is not a whole number of {unit}")
AMEND_NOT_FUND = N_("'{text}' is not a fund (write name=weight | name=weight)")
AMEND_FUND_NAME = N_("a fund's name can be at most {limit} characters ({length} given)")
AMEND_ORG_NAME = N_("an organisation's name can be at most {limit} characters ({length} given)")
AMEND_NOT_NAMES = N_("'{text}' is not a list of names separated by |")
AMEND_NAME_LONG = N_("a name can be at most {limit} characters ({length} given)")
AMEND_NAME_TWICE = N_("{name} is given twice")
AMEND_NAMES_COUNT = N_("{key} takes at most {most} names ({count} given)")
AMEND_NOT_WEIGHT = N_("the weight of {name} must be a whole number, not '{text}'")
AMEND_WEIGHT_BOUND = N_("the weight of {name} must be from {low} to {high}")
AMEND_FUND_TWICE = N_("the fund {name} is given twice")
AMEND_FUNDS_COUNT = N_("{key} must name from {low} to {high} funds ({count} given)")
AMEND_NOT_CHOICE = N_("{key} is {choices}, not '{text}'")
AMEND_NOT_CURRENCY = N_("'{text}' is not an ISO 4217 currency code (write EUR, USD, GBP…)")
AMEND_NOT_TIMEZONE = N_("'{text}' is not a timezone (write Europe/Berlin or America/New_York)")

# --- draws anyone can replay ---
DRAW_USAGE_SHOW = N_("Write {prefix}draw D3 to see a draw, or {prefix}draw <seats> <purpose> to announce one.")
DRAW_BAD_SEATS = N_("'{text}' is not a number of seats (write 1, 2, 3…).")
DRAW_NO_SEATS = N_("A draw has at least one seat.")
DRAW_TOO_MANY_SEATS = N_("A draw has at most {limit} seats.")
DRAW_NO_PURPOSE = N_("Say what the draw is for: {prefix}draw 3 auditors.")
DRAW_PURPOSE_TOO_LONG = N_("A draw's purpose can be at most {limit} characters ({length} given).")
DRAW_BAD_SOURCE = N_("'{text}' is not a pool: write from: members (or from: allies).")
DRAW_NO_ALLIES = N_("Drawing from allies comes with affiliated organisations, which this co-op does not have yet. "
                  "Draw from members for now.")
DRAW_BAD_COOLDOWN = N_("'{text}' is not a cooldown: write how many past draws of the same purpose to look back on (0 to {limit}).")
DRAW_BAD_AT = N_("I can't read the draw time '{text}'. Write a duration (10m, 2h, 1d) or a time like 2026-12-01 18:00.")
DRAW_AT_PAST = N_("The draw time {when} has already passed.")
DRAW_AT_TOO_SOON = N_("A draw is made at least {minimum} after it is announced, so members can shuffle.")
DRAW_AT_TOO_LATE = N_("A draw is made at most {maximum} after it is announced.")
DRAW_EMPTY_POOL = N_("Nobody is left to draw from: every active member is excluded.")
DRAW_BAD_NUMBER = N_("'{text}' is not a draw number (write D3 or 3).")
DRAW_UNKNOWN = N_("{coop} has no draw D{number}.")
DRAW_NOT_STEWARD = N_("Only a steward of {coop} can announce a draw. Anyone can look at one: {prefix}draw D3.")
DRAW_REASON_COOLDOWN = N_("seated in D{number} ({purpose})")

DRAW_ANNOUNCED = N_("""Draw D{number}: {seats} for {purpose}, at {when}.
Pool, in register order:
{pool}
{excluded}Commitment: sha256(secret) = {commitment}
Until the draw time, anyone in the co-op may add their own randomness: {prefix}shuffle D{number} <any text>. Every shuffle is posted, and goes into the draw in the order received.""")
DRAW_POOL_LINE_ORG = N_("{index}. {name} ({org})")
DRAW_EXCLUDED_HEAD = N_("Excluded:")
DRAW_EXCLUDED_LINE = N_("- {name}: {reason}")
DRAW_NONE_EXCLUDED = N_("Nobody is excluded.\n")

SHUFFLE_POSTED = N_("Shuffle {seq} for D{number}, from {name}: {text}")
SHUFFLE_EMPTY = N_("A shuffle needs some text of your own: {prefix}shuffle D{number} <any text>.")
SHUFFLE_TOO_LONG = N_("A shuffle can be at most {limit} characters ({length} given).")
SHUFFLE_ONE_LINE = N_("A shuffle is one line.")
SHUFFLE_CLOSED = N_("D{number}'s draw time ({when}) has come: no more shuffles.")
SHUFFLES_SPENT = N_("You have given D{number} the {most} shuffles one member may; they are all in the draw.")
SHUFFLE_DIRECT = N_("Your shuffle is in D{number} as number {seq}, and posted in the co-op's rooms.")

DRAW_RESULT = N_("""Result of draw D{number} ({purpose}): {seated_line}
Seated, in the order drawn:
{seated}
{unfilled}The secret: {secret}
sha256(secret) = {commitment}, as committed before the draw.
Key inputs: the secret, then {contributions_said}.
Anyone can replay it: {prefix}draw D{number}.""")
DRAW_SEATED_LINE = N_("{names}.")
DRAW_SEATED_ITEM = N_("{index}. {name}")
DRAW_UNFILLED = N_("{seats} left empty: nobody was left to draw.\n")
DRAW_NO_CONTRIBUTIONS = N_("no shuffles")

DRAW_SHOW = N_("""Draw D{number}: {seats} for {purpose}, {status}.
Pool, in register order:
{pool}
{excluded}Commitment: sha256(secret) = {commitment}
Shuffles, in the order received:
{contributions}""")
DRAW_STATUS_ANNOUNCED = N_("drawn at {when}; the secret is shown then")
DRAW_STATUS_DUE = N_("to be drawn now (was due {when})")
DRAW_STATUS_DRAWN = N_("drawn at {when}")
DRAW_SHOW_NO_CONTRIBUTIONS = N_("(none)")
DRAW_SHOW_CONTRIBUTION = N_("{seq}. {name}: {text}")
DRAW_SHOW_RESULT = N_("""Secret: {secret}
Seated: {seated}
Replay it in Python (it prints the seats, numbered as in the pool):
{snippet}""")


# --- the audit pack (what drawn auditors read of the co-op's record) ---
PACK_HEAD = N_("Audit pack of {coop}: its record from {since} to {until}.")
PACK_NONE = N_("none recorded")
PACK_PAY = N_("Pay ratio and its history")
PACK_MOVEMENT = N_("The movement share and where it went")
PACK_TURNOUT = N_("Turnout per kind of decision")
PACK_PROPOSERS = N_("Who proposes")
PACK_EARLY = N_("Early closes")
PACK_VETOES = N_("Vetoes and call-ins by the golden share")
PACK_VETO_LINE = N_("#{number} vetoed by {name} for {org} on {when}: {reason}")
PACK_CALLED_IN_LINE = N_("#{number} called in as protected by {name} for {org} on {when}")
PACK_MANDATE = N_("The mandate")
PACK_MIRROR = N_("Mirror shifts")
PACK_DRILLS = N_("Drills")
PACK_MIRROR_LINE = N_("Mirror shift {number} on {when}: facilitated by {facilitator}, format {format}{redesigned}; {confessions} read")
PACK_DRILL_RUNNING = N_("Adversary drill {number}, begun {when}: under way")
PACK_TIMELINE = N_("The drift timeline")

PACK_SHARE = N_("The charter's movement share: {share}.")
PACK_ROUNDS = N_("Rounds paid out: {numbers}.")
PACK_FUND = N_("To {fund}: {amount}")
PACK_FORFEITED = N_("Forfeited shares of removed members, to the funds: {amount}")
PACK_FUNDS_TOTAL = N_("In all to the movement: {amount}")
PACK_TURNOUT_LINE = N_("{kind}: {closed}, {passed} passed, mean turnout {turnout}")
PACK_NO_TURNOUT = N_("no electorate")
PACK_PROPOSED = N_("{total} opened: {stewards} by stewards ({share} of those by members), {members} by other members")
PACK_BY_CHARTER = N_("{count} opened by the charter (mandated votes)")
PACK_EARLY_LINE = N_("#{number} by {steward}: {reason}")
PACK_NO_REASON = N_("no reason given")
PACK_EARLY_MORE = N_("and {more} more")
PACK_MANDATE_STANDS = N_("The mandate stands.")
PACK_MANDATE_LAPSED = N_("The mandate lapsed on {when} and stands lapsed until a renewal passes.")
PACK_SUNSET_NONE = N_("Sunset votes: none recorded")
PACK_SUNSET_LINE = N_("#{number} {title} ({who}): {outcome}")
PACK_SUNSET_BY = {True: N_("the charter's sunset vote"), False: N_("a member's renewal")}
PACK_SUNSET_OPEN = N_("open until {when}")
PACK_SUNSET_WITHDRAWN = N_("withdrawn")
PACK_SUNSET_OUTCOME = {True: N_("renewed"), False: N_("not renewed")}


def pack_section(heading: str, lines: Sequence[str]) -> str:
    """One part of the pack: its heading, then its lines indented (or that nothing is recorded)."""
    return "\n".join([heading + ":", *("  " + line for line in (lines or [_(PACK_NONE)]))])


def pack(coop: str, since: datetime, until: datetime, tz: ZoneInfo, sections: Sequence[str]) -> str:
    return "\n\n".join([_(PACK_HEAD).format(coop=coop, since=when(since, tz), until=when(until, tz)), *sections])


# --- liberation audits ---
GRADES = ("revolutionary", "reformist", "counter-revolutionary")  # typed verdicts, in order of severity
GRADE_WORDS = {"revolutionary": N_("REVOLUTIONARY"), "reformist": N_("REFORMIST"),
               "counter-revolutionary": N_("COUNTER-REVOLUTIONARY"), "none": N_("NO VERDICT"),
               "breach": N_("PAY CAP BREACH")}  # a pay demand's row: no auditor judged it, the cap was breached
AUDITORS_PURPOSE = N_("auditors of liberation audit A{number}")
AUDITORS_REDRAW_PURPOSE = N_("auditors of liberation audit A{number}, drawn again")
STEWARDS_PURPOSE = N_("stewards after the emergency assembly of A{number}")
AUDIT_REASON_COOLDOWN = N_("audited in A{number} (audit_cooldown)")
AUDIT_REASON_SILENT = N_("drawn for A{number} and gave no verdict")
AUDIT_STARTED = N_(
    "Liberation audit A{number} of {coop} is open. Its auditors are drawn by lot from the allies in D{draw} "
    "at {when}; shuffle it before then: {prefix}shuffle D{draw} <any text>."
)
AUDIT_NO_ALLIES = N_(
    "No ally can be drawn as an auditor of {coop}: affiliate organisations by a proposal with the line "
    "'affiliate: <organisation>', then add their people with {prefix}ally <person> and the line 'org: <organisation>'."
)
AUDIT_NONE_DRAWN = N_(
    "Liberation audit A{number} of {coop} fell due ({when}), but no ally could be drawn as an auditor (none, or all "
    "in their cooldown): it is recorded with no verdict.\n"
    "No ally can be drawn as an auditor of {coop}: affiliate organisations by a proposal with the line "
    "'affiliate: <organisation>', then add their people with {prefix}ally <person> and the line 'org: <organisation>'."
)
AUDIT_RUNNING = N_("Liberation audit A{number} is under way; an audit starts only once it is closed ({prefix}audit shows it).")
AUDIT_DUE_RUNNING = N_("The liberation audit of {coop} falls due now; A{number} is still under way and stands for it.")
AUDIT_OPENED = N_(
    "Liberation audit A{number}: the auditors are {auditors} (drawn in D{draw}).\n"
    "They give their verdicts by {when}: {prefix}verdict A{number} revolutionary|reformist|counter-revolutionary, "
    "with their findings on the lines below. Everyone can read the audit pack: {prefix}audit."
)
AUDIT_NO_SEATS = N_(
    "Liberation audit A{number}: nobody drawn in D{draw} is still an ally, so no one can audit; "
    "the audit closes at {when} with no verdict unless it is drawn again."
)
AUDIT_PACK_IN_ROOM = N_("The audit pack, for the auditors this bot cannot write to directly:\n\n{pack}")
AUDIT_PACK_DIRECT = N_(
    "You are drawn as an auditor of {coop} in liberation audit A{number}. Give your verdict by {when}, "
    "in a room of {coop} or here:\n{prefix}verdict A{number} revolutionary|reformist|counter-revolutionary\n"
    "<your findings, on the lines below>\n\n{pack}"
)
AUDIT_REDRAWN = N_(
    "No auditor of A{number} gave a verdict in time: the auditors are drawn again, once (D{draw})."
)
AUDIT_CLOSED = N_("Liberation audit A{number} of {coop} is closed. The co-op's verdict: {grade}.")
AUDIT_MEDIAN = N_("The median of {count}: {grades}.")
AUDIT_MEDIAN_TIE = N_("Two grades in the middle: the sterner one stands.")
AUDIT_SILENT = N_("{silent} gave no verdict; a missing verdict does not count.")
AUDIT_NO_VERDICT = N_("No auditor gave a verdict, even when drawn again: recorded as no verdict. Nothing follows.")
AUDIT_FOLLOWS = {
    "revolutionary": N_("Nothing follows: the co-op keeps its course."),
    "reformist": N_(
        "A revision is due: a proposal with the line 'revises: A{number}' must pass by {due}, "
        "or an emergency assembly is convened."
    ),
    "counter-revolutionary": N_("An emergency assembly is convened at once."),
}
AUDIT_FINDING = N_("A{number} · {name}{org}: {grade}.\n{findings}")
AUDIT_FINDING_NONE = N_("(no findings written)")
REVISION_REMINDER = N_(
    "Reminder: liberation audit A{number}'s revision must pass by {due} ({left} left), or an emergency assembly "
    "is convened. Propose it with the line 'revises: A{number}': {prefix}propose <title>, then revises: A{number}."
)
REVISION_MISSED = N_(
    "Liberation audit A{number}'s revision was not passed by {due}: an emergency assembly is convened."
)
# A pay demand (SPEC 'Firewalls'): an amendment set the wage-ratio cap below the pay scale's ratio.
PAY_BREACH_DUE = N_(
    "The wage-ratio cap is now {cap}, below the pay scale's ratio {ratio}: a revision is due (A{number}). "
    "A proposal with the line 'revises: A{number}' must pass by {due}, or an emergency assembly is convened."
)
PAY_REVISION_REMINDER = N_(
    "Reminder: the revision of pay cap breach A{number} must pass by {due} ({left} left), or an emergency assembly "
    "is convened. Propose it with the line 'revises: A{number}': {prefix}propose <title>, then revises: A{number}."
)
PAY_REVISION_MISSED = N_(
    "The revision of pay cap breach A{number} (the wage-ratio cap set below the pay scale's ratio) was not passed "
    "by {due}: an emergency assembly is convened."
)
ASSEMBLY_TITLE = N_("Keep the current stewards?")
ASSEMBLY_BODY = N_(
    "EMERGENCY ASSEMBLY of {coop}, convened by {by} ({why}). The assembly is at {when}; "
    "this vote closes then, and no one can close or withdraw it early. "
    "If it fails, every steward role lapses and as many new stewards are drawn by lot from the members who were "
    "not stewards. Stewards now: {stewards}."
)
ASSEMBLY_BY = {"audit": N_("liberation audit A{number}"), "pay": N_("pay cap breach A{number}")}
ASSEMBLY_WHY = {"counter-revolutionary": N_("a counter-revolutionary verdict"),
                "missed": N_("its revision was not passed in time"),
                "pay": N_("the wage-ratio cap was set below the pay scale's ratio, and no revision passed in time")}
ASSEMBLY_CARD = N_("Emergency assembly of A{number}: if this fails, every steward role lapses and new stewards are drawn by lot.")
REVISION_CARD = N_("If passed by {due}, this meets liberation audit A{number}'s revision demand.")
PAY_REVISION_CARD = N_("If passed by {due}, this meets the revision demand of pay cap breach A{number}.")
STEWARDS_KEPT = N_("The assembly keeps the stewards in their roles.")
STEWARDS_LAPSED = N_(
    "Every steward role lapses ({names}); as many new stewards are drawn by lot from the members who were not "
    "stewards."
)
REVISION_MET = N_("This meets liberation audit A{number}'s revision demand.")
PAY_REVISION_MET = N_("This meets the revision demand of pay cap breach A{number}.")
STEWARD_REASON_LAPSED = N_("a steward whose role lapsed")
STEWARDS_SEATED = N_("New stewards of {coop}, drawn by lot after the emergency assembly of A{number} (D{draw}): {names}.")
STEWARDS_NONE_SEATED = N_("Nobody drawn in D{draw} is still a member, so {coop} has no steward now.")

REVISES_BAD = N_("'{text}' is not an audit: write revises: A<n>, as in revises: A1.")
REVISES_UNKNOWN = N_("{coop} has no liberation audit A{number}.")
REVISES_RENEWAL = N_("A renewal of the mandate cannot also answer an audit: propose the revision on its own.")
REVISES_NOT_DUE = N_("Liberation audit A{number} demands no revision now.")
PAY_REVISES_NOT_DUE = N_("Pay cap breach A{number} demands no revision now.")
REVISES_TOO_LATE = N_(
    "A revision of A{number} must pass by {due}, and this proposal would close {closes}: set closes: before the deadline."
)

VERDICT_BAD_GRADE = N_("'{text}' is not a verdict: revolutionary, reformist or counter-revolutionary.")
VERDICT_NOT_AUDITOR = N_("Only the auditors drawn for A{number} give its verdict.")
VERDICT_NOT_OPEN = N_("Liberation audit A{number} is not taking verdicts ({state}).")
VERDICT_STATES = {"drawing": N_("its auditors are not drawn yet"), "open": N_("its window is over"),
                  "closed": N_("it is closed")}
VERDICT_GIVEN = N_("Your verdict on A{number} is recorded: {grade}. {spoken} of {seats} auditors have spoken; you may restate it until the audit closes.")
VERDICT_RESTATED = N_("Your verdict on A{number} is restated: {grade}. {spoken} of {seats} auditors have spoken.")
VERDICT_TOO_LONG = N_("Findings can be at most {limit} characters ({length} given).")
AUDIT_BAD_NUMBER = N_("'{text}' is not an audit: write A1 or 1.")
AUDIT_UNKNOWN = N_("{coop} has no liberation audit A{number}.")

AUDIT_NONE_YET = N_("{coop} has had no liberation audit yet; the next is due {when}. A steward may start one now: {prefix}audit start.")
NOBODY = N_("nobody yet")
AUDIT_SHOW_HEAD = N_("Liberation audit A{number} of {coop} ({reason}), started {started}.")
AUDIT_REASONS = {"calendar": N_("due by the charter"), "steward": N_("started by a steward"), "pay": N_("pay cap breach")}
AUDIT_SHOW_BREACH = N_(
    "A{number} of {coop} (pay cap breach): the cap {cap}, set by #{proposal} on {started}, was below the pay "
    "scale's ratio then, {ratio}. No auditors judge it: the charter demands a revision."
)
AUDIT_SHOW_DRAWING = N_("Its auditors are drawn in D{draw} at {when}.")
AUDIT_SHOW_AUDITORS = N_("Auditors: {auditors}.")
AUDIT_SHOW_WINDOW = N_("Verdicts until {when}; {spoken} of {seats} have spoken: {names}.")
AUDIT_SHOW_CLOSED = N_("Closed {when}: the co-op's verdict is {grade}.")
AUDIT_SHOW_REVISION = N_("A revision is due: a proposal with 'revises: A{number}' must pass by {due}.")
AUDIT_SHOW_REVISED = N_("Its revision demand was met.")
AUDIT_SHOW_ASSEMBLY = N_("An emergency assembly is convened: #{proposal} {title} closes at the assembly, {when}.")
AUDIT_SHOW_ASSEMBLY_DUE = N_("An emergency assembly is being convened.")
AUDIT_SHOW_KEPT = N_("The emergency assembly kept the stewards.")
AUDIT_SHOW_LAPSED = N_("The emergency assembly withdrew its confidence: the stewards' roles lapsed and new ones are drawn.")
AUDIT_SHOW_RESEATED = N_("The emergency assembly withdrew its confidence; new stewards were drawn by lot.")
CALENDAR_AUDIT_WINDOW = N_("A{number}: auditors' verdicts due")
CALENDAR_REVISION = N_("A{number}: its revision must pass by now, or an emergency assembly is convened")
CALENDAR_PAY_REVISION = N_(
    "A{number} (pay cap breach): its revision must pass by now, or an emergency assembly is convened"
)
CALENDAR_ASSEMBLY = N_("Emergency assembly of A{number}: #{proposal} {title} closes")


def audit_lines(action: dict | None) -> list[str]:
    """What a proposal that answers an audit, or was convened by one, does: on its card."""
    action = action or {}
    if "revises" in action:
        card = _(PAY_REVISION_CARD) if action.get("breach") else _(REVISION_CARD)
        return [card.format(number=action["revises"], due=action.get("due", _("the deadline")))]
    if "assembly" in action:
        return [_(ASSEMBLY_CARD).format(number=action["assembly"])]
    return []


def settled(note: dict) -> str:
    """The line a result adds on the audit it answered (ProposalStore.close's `audit` note)."""
    if note["effect"] == "revised":
        return (_(PAY_REVISION_MET) if note.get("reason") == "pay" else _(REVISION_MET)).format(number=note["number"])
    if note["effect"] == "kept":
        return _(STEWARDS_KEPT)
    return _(STEWARDS_LAPSED).format(names=and_list(note.get("names") or [_("none")]))


# --- affiliated organisations and allies ---
ACTION_ONE = N_("A proposal makes one change: amend, waive, affiliate or disaffiliate, not several. Propose each on its own.")
AFFILIATION_KIND = N_("Affiliating or disaffiliating an organisation is at least a strategic decision: use kind: strategic "
                    "(or leave kind out).")
AFFILIATE_ALREADY = N_("{org} is already affiliated with {coop}.")
DISAFFILIATE_UNKNOWN = N_("{org} is not affiliated with {coop}. Affiliated now: {orgs}.")
AFFILIATED = N_("{org} is now an affiliated organisation: a steward adds its people as allies (ally <person>, line org: {org}).")
DISAFFILIATED = N_("{org} is no longer affiliated: its allies are allies no more.")
NO_ORGS = N_("none")
ORG_UNKNOWN = N_("{org} is not an affiliated organisation of {coop}. Affiliated now: {orgs}.")
ALLY_NO_ORG = N_("Say which organisation with a line org: <organisation>.")
ALLY_NOT_ALLOWED = N_("Only an ally from {org} (or, for its first ally, a steward of {coop}) can add {org}'s allies.")
ALLY_FIRST_ONLY = N_("{org} has allies already: only they add its allies. {coop} does not choose who speaks for the "
                   "movement; a steward adds only an organisation's first ally.")
UNALLY_NOT_ALLOWED = N_("Only an ally from {org} can end an allyship with {org}: {coop} does not choose who speaks for "
                      "the movement (a vote can disaffiliate {org}).")
ALLY_IS_MEMBER = N_("{name} is a member of {coop}: allies come from outside the co-op.")
ALLY_ALREADY = N_("{name} is already an ally of {coop} from {org}.")
ALLY_OTHER_ORG = N_("{name} is an ally of {coop} from {other}. To make them an ally from {org}, {prefix}unally {name} first.")
ALLY_UNKNOWN = N_("I don't know '{who}' in {coop}. Name someone new by their platform id (for example @alice:example.org or a Telegram number).")
ALLY_RACE = N_("{who} was put on the register of {coop} by another command just now; nothing was changed. Please try again.")
ALLY_ADDED = N_("{name} is now an ally of {coop} from {org}. Allies speak in the co-op's rooms and in a direct chat with me; they never vote.")
ALLY_ANNOUNCED = N_("{name} is now an ally of {coop} from {org} (added by {by}). Allies never vote; they may be drawn "
                  "as auditors.")
UNALLY_ANNOUNCED = N_("{name} is no longer an ally of {coop} (from {org}; removed by {by}).")
UNALLY_SEATED = N_("{name} is drawn as an auditor of A{number}: until it closes, only {name} can end their allyship.")
ALLY_ENTRY_STEWARD = N_("{name} is on the register of {coop} already (a request to join, or removed): only a steward "
                      "can make them an ally.")
UNALLY_NOT_ALLY = N_("{name} is not an ally of {coop}.")
UNALLIED = N_("{name} is no longer an ally of {coop} (from {org}).")
ALLIES_HEAD = N_("Affiliated organisations of {coop}:")
ALLIES_LINE = N_("• {org}: {names}")
ALLIES_NONE_YET = N_("no allies yet")
ALLIES_EMPTY = N_("{coop} has no affiliated organisations. A member proposes one with {prefix}propose <title> "
                "and a line affiliate: <organisation>.")
GOLDEN_SHARE = N_("Golden share: {holder}")
GOLDEN_SHARE_LAPSED = N_("Golden share: {holder}, no longer affiliated: nobody holds the veto until a protected "
                       "amendment of golden_share names an affiliated organisation.")


def allies_list(coop: str, roster, golden_share: str | None, prefix: str) -> str:
    """The `allies` answer: each affiliated organisation with its allies, and the golden share."""
    if not roster:
        lines = [_(ALLIES_EMPTY).format(coop=coop, prefix=prefix)]
    else:
        lines = [_(ALLIES_HEAD).format(coop=coop)]
        lines += [_(ALLIES_LINE).format(org=org.name, names=", ".join(m.display_name for m in people) or _(ALLIES_NONE_YET))
                  for org, people in roster]
    held = golden_share is None or any(org.name.casefold() == golden_share.casefold() for org, _ in roster)
    lines.append((_(GOLDEN_SHARE) if held else _(GOLDEN_SHARE_LAPSED)).format(holder=golden_share or _(NO_ORGS)))
    return "\n".join(lines)


# --- the pay scale and the wage-ratio cap ---
PAY_PER = {"hour": N_("{amount} an hour"), "month": N_("{amount} a month ({hours} hours)")}
PAY_AMOUNT_PROBLEMS = {
    "not_a_number": N_("'{text}' is not an amount of pay: write digits, like 18.50 or 2,400."),
    "negative": N_("Pay cannot be negative."),
    "zero": N_("Pay must be more than zero."),
    "too_large": N_("That amount is larger than any pay coopbot accepts (a typo?)."),
    "too_precise": N_("{currency} has {units} decimal places; '{text}' has more."),
}
PAY_USAGE = N_("Write {prefix}pay <member> <amount>, or {prefix}pay alone to see the pay scale.")
PAY_BAD_PER = N_("'{text}' is not hour or month.")
PAY_BAD_HOURS = N_("'{text}' is not a whole number of hours in a month (1 to 744).")
PAY_HOURS_MONTHLY = N_("hours: is for monthly pay (per: month).")
PAY_NOT_MEMBER = N_("{who} is not an active member of {coop}.")
PAY_SET = N_("Pay of {name} set to {pay} ({hourly} an hour). The ratio highest : lowest is {ratio} (cap {cap}).")
PAY_REFUSED = N_("A pay change for {name} to {pay} was refused: it would make the ratio {ratio} "
               "against the cap {cap}.")
PAY_HEAD = N_("Pay scale of {coop} (hourly equivalents):")
PAY_HEAD_CLOSED = N_("Pay of {coop} is closed (open_pay = no): you see the ratio and your own pay.")
PAY_LINE = N_("• {name}: {hourly} an hour{detail}")
PAY_MONTHLY_DETAIL = N_(" ({pay})")
PAY_NONE = N_("No pay is recorded yet. A steward records it with {prefix}pay <member> <amount>.")
PAY_YOURS_NONE = N_("No pay is recorded for you.")
PAY_RATIO = N_("Ratio highest : lowest: {ratio} (cap {cap}).")
PAY_HISTORY = N_("History (latest {count}, newest first):")
PAY_HISTORY_SET = N_("• {when} — {name}: {pay}, set by {by}")
PAY_HISTORY_REFUSED = N_("• {when} — {name}: {pay}, by {by}, refused ({ratio} against the cap)")
PACK_PAY_RATIO = N_("Ratio highest : lowest now: {ratio} (cap {cap}), among {count}")
PACK_PAY_NONE = N_("No pay recorded.")
PACK_PAY_LINE = N_("{when}: {name} {pay} ({hourly} an hour), {status}")
PACK_PAY_STATUS = {"set": N_("set"), "refused": N_("refused: it would have made {ratio}")}
PACK_PAY_CHANGES = N_("Pay changes in the period:")


def pay_words(per: str, amount: str, hours: int | None) -> str:
    """`18.50 EUR an hour`, `2,400.00 EUR a month (160 hours)`."""
    return translated(PAY_PER)[per].format(amount=amount, hours=hours)


# --- rituals: mirror shifts and adversary drills (SPEC "Rituals") ---
MIRROR_REMINDER = N_("Mirror shift of {coop} in {left} ({when}): production halts for reflection. A facilitator and a "
                   "format are drawn by lot; the newest member speaks first. Until then you may {prefix}confess in a "
                   "direct chat with me.")
MIRROR_STARTED = N_("MIRROR SHIFT {number} of {coop}: production halts for reflection. The facilitator (D{facilitator}) "
                  "and the format (D{format}) are drawn by lot at {when}; add your randomness with {prefix}shuffle.")
FACILITATOR_PURPOSE = N_("facilitator of mirror shift {number}")
FORMAT_PURPOSE = N_("format of mirror shift {number}")
FACILITATOR_REASON = N_("facilitated mirror shift {number} (facilitator_cooldown)")
FORMAT_REASON_LAST = N_("the last shift's format")
MIRROR_OPENED = N_("Mirror shift {number} of {coop}: {facilitator} facilitates (D{draw}), in the format {format} "
                 "(D{format_draw}).\nSpeaking order, newest member first:\n{order}\nThe facilitator may redesign the "
                 "format with {prefix}format <text> and reads the anonymous confessions with {prefix}confessions. "
                 "The shift ends {ends}.")
MIRROR_NO_FACILITATOR = N_("nobody (the one drawn is no longer a member)")
MIRROR_REDESIGNED = N_("Mirror shift {number}: {name}, its facilitator, redesigned the format: {format}")
MIRROR_CLOSED = N_("Mirror shift {number} of {coop} is over; production resumes.{confessions}")
MIRROR_CONFESSIONS_READ = N_(" {count} read aloud.")
MIRROR_SHOW_NEXT = N_("Next mirror shift of {coop}: {when} (every {every}).")
MIRROR_SHOW_DRAWING = N_("Mirror shift {number} of {coop} has begun: the facilitator (D{draw}) and the format "
                       "(D{format_draw}) are drawn at {when}.")
MIRROR_SHOW_OPEN = N_("Mirror shift {number} of {coop}, until {ends}: {facilitator} facilitates, in the format "
                    "{format}{redesigned}.\nSpeaking order, newest member first:\n{order}")
MIRROR_SHOW_REDESIGNED = N_(" (redesigned by the facilitator)")
MIRROR_SHOW_LAST = N_("Last: mirror shift {number} on {when}, facilitated by {facilitator}, in the format {format}.")
MIRROR_SHOW_WAITING = N_("{count} waiting to be read at the next shift.")
FORMAT_EMPTY = N_("Say the new format: format <text>.")
FORMAT_TOO_LONG = N_("A format can be at most {limit} characters ({length} given).")
FORMAT_NO_SHIFT = N_("No mirror shift of {coop} is under way: the format is redesigned during one, by its facilitator.")
FORMAT_NOT_FACILITATOR = N_("Only {name}, the facilitator of mirror shift {number}, can redesign its format.")
RITUAL_STATES = {"drawing": N_("its draws are not made yet"), "over": N_("it is over"), "closed": N_("it is over")}
FORMAT_NOT_OPEN = N_("Mirror shift {number}'s format cannot be redesigned now: {state}.")
FORMAT_DONE = N_("The format of mirror shift {number} is now: {format}")
FORMAT_SPENT = N_("The format of mirror shift {number} has been redesigned {most} times, as often as one shift allows.")
ORDER_MORE = N_("… and {more} more, newest first (the rest of the register, in order of admission)")
EDIT_TEMPTATION = N_("#{number} is a temptation of an adversary drill: it cannot be edited. Its author may withdraw it "
                   "({prefix}withdraw {number}) and tempt anew.")
DRILL_MARK = N_("DRILL · ")
DRIFT_BEFORE_FOUNDING = N_("{when} is before {coop} was founded ({founded}): the timeline begins at the founding.")

DRILL_STARTED = N_("ADVERSARY DRILL {number} of {coop}: a red team of {team} is drawn by lot at {when} (D{draw}). For "
                 "{days} after, its members may tempt the collective with compromises ({prefix}tempt <title>); vote on "
                 "each as on any proposal. It is a rehearsal: nothing a temptation says takes effect.")
RED_TEAM_PURPOSE = N_("red team of adversary drill {number}")
DRILL_OPENED = N_("The red team of adversary drill {number} of {coop}: {team} (D{draw}). Until {ends} they may "
                "{prefix}tempt <title> (other lines: the temptation); every member votes on it, and practises refusal.")
DRILL_NO_TEAM = N_("nobody (those drawn are no longer members)")
DRILL_RECORD = N_("Adversary drill {number} of {coop} is over. The red team put {temptations}: {refused} refused, "
                "{accepted} accepted{undecided}{withdrawn}. Mean turnout {turnout}; median time to decide {decide}."
                "{accepted_list}")
DRILL_RECORD_UNDECIDED = N_(", {count} left undecided (quorum not met)")
DRILL_RECORD_MORE = N_("; and {more} more")
DRILL_ACCEPTED_SHOWN = 10
DRILL_EARLIER = N_("{more} earlier")
DRILL_RECORD_WITHDRAWN = N_(", {count} withdrawn")
DRILL_RECORD_ACCEPTED = N_("\nAccepted: {items}.")
DRILL_NO_DECISIONS = N_("no vote cast")


def drill_record(number: int, coop: str, record: dict) -> str:
    """A drill's record as posted at its end (and shown by `drill` and the audit pack)."""
    accepted = record["accepted"]
    return _(DRILL_RECORD).format(
        number=number, coop=coop, temptations=plural(record["temptations"], "temptation", "temptations"),
        refused=len(record["refused"]), accepted=len(accepted),
        undecided=_(DRILL_RECORD_UNDECIDED).format(count=len(record["undecided"])) if record.get("undecided") else "",
        withdrawn=_(DRILL_RECORD_WITHDRAWN).format(count=len(record["withdrawn"])) if record["withdrawn"] else "",
        turnout=percent(Fraction(record["turnout"])) if record["turnout"] is not None else _(PACK_NONE),
        decide=span(timedelta(seconds=record["median_decide_s"])) if record["median_decide_s"] is not None
        else _(DRILL_NO_DECISIONS),
        accepted_list=_(DRILL_RECORD_ACCEPTED).format(
            items="; ".join(f"#{n} {t}" for n, t in accepted[:DRILL_ACCEPTED_SHOWN])
            + (_(DRILL_RECORD_MORE).format(more=len(accepted) - DRILL_ACCEPTED_SHOWN)
               if len(accepted) > DRILL_ACCEPTED_SHOWN else "")) if accepted else "")


DRILL_SHOW_NEXT = N_("Next adversary drill of {coop}: {when} (every {every}).")
DRILL_SHOW_DRAWING = N_("Adversary drill {number} of {coop} has begun: its red team (D{draw}) is drawn at {when}.")
DRILL_SHOW_OPEN = N_("Adversary drill {number} of {coop}, until {ends}: the red team is {team}.\nTemptations: {items}")
DRILL_SHOW_LAST = N_("Last: adversary drill {number} on {when}: {summary}")
DRILL_ITEM = N_("#{number} {title} ({state})")
DRILL_NONE_YET = N_("none yet")
DRILL_STATES = {"open": N_("open"), "passed": N_("accepted"), "failed": N_("refused"), "withdrawn": N_("withdrawn")}
TEMPT_NO_DRILL = N_("No adversary drill of {coop} is under way: the red team tempts during one (see {prefix}drill).")
TEMPT_NOT_TEAM = N_("Only the red team of adversary drill {number} ({team}) can tempt the collective.")
TEMPT_ENOUGH = N_("You have put {most} temptations to adversary drill {number}: that is as many as one member may.")
TEMPT_TOO_LATE = N_("Adversary drill {number} ends {ends}: too soon for another temptation to be decided.")
TEMPT_ACTION = N_("A temptation changes nothing, whatever the vote: '{key}:' lines are refused (write the compromise "
                "as its text).")
TEMPT_FORM = N_("A temptation is put as every drill's is, an open For/Against vote closing with the voting period: "
              "'{key}:' lines are refused (write the compromise as its text).")
DRILL_CARD = N_("DRILL (adversary drill {number}): a temptation from the red team. Vote on it as on any proposal and "
              "practise refusal; whatever the result, nothing takes effect.")
DRILL_RESULT = N_("DRILL: a rehearsal; nothing takes effect.")
CALENDAR_MIRROR_ENDS = N_("mirror shift {number} ends")
CALENDAR_DRILL_ENDS = N_("adversary drill {number} ends: its record is posted")
CALENDAR_MIRROR = N_("mirror shift: production halts for reflection (reminders 7d and 1d before)")
CALENDAR_DRILL = N_("adversary drill: a red team is drawn by lot")
PROTECT_DRILL = N_("#{number} is a temptation of an adversary drill: it changes nothing, so there is nothing to protect.")


# --- The drift timeline (SPEC "Rituals": timeline entries) ---
DRIFT_EMPTY = N_("Write what drifted: {prefix}drift <text>.")
DRIFT_TOO_LONG = N_("A drift entry can be at most {limit} characters ({length} given).")
DRIFT_BAD_WHEN = N_("'{text}' is not a date: write when: 2026-03-01 or when: 2026-03-01 14:30 (the co-op's time).")
DRIFT_FUTURE = N_("A drift entry is of what happened: {when} is still to come.")
DRIFT_BAD_ABOUT = N_("'{text}' is not a proposal: write about: #3.")
DRIFT_NO_PROPOSAL = N_("{coop} has no proposal #{number}.")
DRIFT_RECORDED = N_("Drift {number} on the timeline of {coop}, recorded by {name}: {text} ({when}{about}).")
DRIFT_ABOUT = N_("; about #{number}")
TIMELINE_HEADING = N_("The drift timeline of {coop}, oldest first:")
TIMELINE_LINE = N_("• {date} — {kind} — {label}")
TIMELINE_MORE = N_("(… and {more} earlier)")
TIMELINE_COUNT = N_("{count}.")
TIMELINE_EMPTY = N_("The drift timeline of {coop} is empty. Record a drift with {prefix}drift <text>.")
TIMELINE_TITLE = N_("The drift timeline of {coop}")
CONSOLE_IMAGE_SAVED = N_("(the picture is saved in {path})")
CONSOLE_FILE_SAVED = N_("(the file is saved in {path})")
# The timeline's kinds of entries, in the legend's order.
TIMELINE_KINDS = {"drift": N_("drift"), "audit": N_("audit verdict"), "pay": N_("pay refused"), "veto": N_("veto"),
                  "drill": N_("drill record"), "sunset": N_("sunset vote"), "assembly": N_("emergency assembly"),
                  "mirror": N_("mirror shift")}
TIMELINE_LABELS = {
    "drift": N_("drift {number}: {text}{about}"),
    "audit_closed": N_("A{number}: verdict {verdict}"),
    "pay_refused": N_("pay of {name} refused: {ratio} past the cap {cap}"),
    "veto": N_("#{proposal} vetoed by {org}"),
    "drill_closed": N_("drill {number}: {refused} of {temptations} refused"),
    "proposal_closed": N_("#{proposal}: mandate {renewed}"),
    "stewards_kept": N_("A{number}: the assembly kept the stewards"),
    "stewards_lapsed": N_("A{number}: the assembly lapsed the stewards"),
    "revision_missed": N_("A{number}: revision missed, emergency assembly"),
    "mirror_opened": N_("mirror shift {number}: {format}"),
}
TIMELINE_RENEWED = {True: N_("renewed"), False: N_("not renewed")}


def timeline_label(kind: str, data: dict, name: str | None, proposal: int | None) -> str:
    """What one timeline entry says, from its logged data."""
    record = data.get("record") or {}
    result = data.get("result") or {}
    return translated(TIMELINE_LABELS)[kind].format(
        number=data.get("number", "?"), text=data.get("text", ""), verdict=data.get("verdict", "?"),
        about=_(DRIFT_ABOUT).format(number=proposal) if kind == "drift" and proposal else "",
        name=name or "?", org=data.get("org", "?"), proposal=proposal or data.get("number", "?"),
        ratio=measured_ratio(Fraction(data["ratio"])) if data.get("ratio") else "?",
        cap=ratio(Fraction(data["cap"])) if data.get("cap") else "?",
        refused=len(record.get("refused", [])), temptations=record.get("temptations", 0),
        renewed=translated(TIMELINE_RENEWED)[bool(result.get("carried", result.get("passed")))],
        format=data.get("format") or "?")
# --- anonymous confessions (SPEC "Rituals": confessions) ---
CONFESS_SUMMARY = N_("in a direct chat: an anonymous confession, read at the next mirror shift")
CONFESSIONS_SUMMARY = N_("the mirror shift's facilitator: read the anonymous confessions aloud, then destroy them")
CONFESS_EMPTY = N_("Write the confession after the command: {prefix}confess <text>.")
CONFESS_TOO_LONG = N_("A confession can be at most {limit} characters ({length} given); nothing was kept.")
CONFESS_KEPT = N_("Kept anonymously until the facilitator of the next mirror shift of {coop} reads it aloud; then it "
                "is destroyed. Nothing stored says who wrote it, and your message is deleted from this chat where "
                "the platform lets me.")
ERASED_REASON = N_("erased by the bot: a confession is kept anonymously")
VOTE_ERASED = N_("erased by the bot: this vote is secret, or its ballot's results are hidden until the close")
ERASED_AGAIN = N_("That message was handled already; it is deleted from this chat where the platform lets me.")
CONFESSIONS_NO_SHIFT = N_("No mirror shift of {coop} is under way: confessions are read during one, by its facilitator "
                        "({prefix}mirror says when).")
CONFESSIONS_NOT_FACILITATOR = N_("Only {name}, the facilitator of mirror shift {number}, reads the confessions.")
CONFESSIONS_NOT_OPEN = N_("Mirror shift {number}'s confessions cannot be read now: {state}.")
CONFESSIONS_NONE = N_("No confessions wait to be read in {coop}.")
CONFESSION_READ = N_("Confession {index} of {count}, read aloud by the facilitator of mirror shift {number}:\n{text}")
CONFESSIONS_DONE = N_("{count} read aloud in every room of {coop}, in an order drawn by lot; their texts are destroyed "
                    "once posted. Mirror shift {number} has read {total} in all.")
# What `help confess` promises, and what it does not.
CONFESS_PROMISE = N_(
    "What is promised: other members, stewards and the bot's stored record (its tables, its event log, its minutes, "
    "exports and its own log) cannot link a confession to you. It is kept as text only, with no name, id, time or "
    "message id, shuffled among the others at every new one; your message is deleted from the direct chat at once "
    "where the platform allows (Telegram, Matrix), and the stored texts are erased once read aloud. Only the number "
    "read is kept.\n"
    "What is not promised: the platform itself (Telegram's or the Matrix homeserver's operators, and a Matrix "
    "server's backups, may keep what you sent, even deleted); whoever operates the bot and watches it at the moment "
    "your message arrives (its traffic, or its database from one moment to the next, or its disk before the next "
    "checkpoint); the confessions read aloud, which stay in the rooms' history like words said at the shift; the "
    "bot's answer in your direct chat, which says you confessed; and your words, which members may recognise.")
CONFESS_BOX_FULL = N_("{most} confessions already wait to be read in {coop}, as many as one mirror shift reads; "
                    "nothing was kept. Try again after the next shift.")
HELP_MORE = {"confess": CONFESS_PROMISE}


# --- proxies ---
PROXY_NOT_ALLOWED = N_("The charter of {coop} allows no proxies: every member votes for themselves. A constitutional "
                     "proposal can change that (amend: proxies = yes).")
PROXY_ONE_OF = N_("Say which votes you lend: a line for: #N (one open proposal) or until: <date> (every proposal closing before then).")
PROXY_SELF = N_("Your vote is already yours: name another member to hold your proxy.")
PROXY_HOLDER_INACTIVE = N_("{name} is not an active member of {coop}: only an active member can hold a proxy.")
PROXY_PROTECTED = N_("#{number} is a protected decision: every member votes on it for themselves, no proxies.")
PROXY_NOT_ELECTOR = N_("You joined {coop} after #{number} opened: you have no vote on it to lend.")
PROXY_HOLDER_NOT_ELECTOR = N_("{name} joined {coop} after #{number} opened: they have no vote on it to carry yours.")
PROXY_NOT_OPEN = N_("#{number} is {status}: a proxy for it would change nothing.")
PROXY_BAD_FOR = N_("for: names one open proposal, like for: #4 ('{text}' given).")
PROXY_BAD_UNTIL = N_("until: is a date and time like 2026-12-01 18:00, or a span like 30d ('{text}' given).")
PROXY_UNTIL_PAST = N_("until: {when} has passed already.")
PROXY_UNTIL_FAR = N_("A proxy lasts at most {most}: give an until: date sooner than that (and lend it again later).")
PROXY_LIMIT = N_("{name} already holds proxies for {held} (the charter's limit is {limit} at once): ask another member, "
               "or a constitutional proposal can change proxy_limit.")
PROXY_GIVEN = N_("{giver} lends their vote to {holder} {scope}: {holder}'s vote counts for {giver} too, unless {giver} "
               "votes. Revoke with {prefix}unproxy.")
PROXY_REPLACES = N_(" This replaces {giver}'s proxy to {old}.")
PROXY_FOR = N_("for #{number}")
PROXY_UNTIL = N_("on every proposal closing before {when}")
PROXY_TOLD = N_("{giver} lent you their vote in {coop} {scope}: your vote counts for them too, unless they vote "
              "themselves.")
PROXY_REVOKED = N_("Your proxy to {holder} ({scope}) is revoked: your vote is yours alone again.")
PROXY_NONE_TO_REVOKE = N_("You have lent your vote to no one: there is no proxy to revoke.")
PROXIES_HEAD = N_("Proxies of {name} in {coop}:")
PROXIES_GAVE = N_("• You lent your vote to {holder} {scope}.")
PROXIES_GAVE_NONE = N_("• You have lent your vote to no one.")
PROXIES_HOLD = N_("• You hold {giver}'s vote {scope}.")
PROXIES_HOLD_NONE = N_("• You hold no one's vote.")
PROXIES_OFF = N_("(The charter allows no proxies now: none of these counts.)")
PROXY_PENDING_HEAD = N_("By proxy, unless they vote themselves:")
PROXY_PENDING_LINE = N_("• {giver}'s vote goes with {holder}'s")
PROXY_ACTS_AGAIN = N_(" You lent your vote to {holder}: their vote counts for you on #{number} again, unless you vote. "
                    "To have no vote at all, {prefix}unproxy.")
PROXY_CARRIES = N_(" Your vote also counts for {givers} by proxy, unless they vote themselves.")
BY_PROXY_OPEN = N_("Voted by proxy: {pairs}.")
BY_PROXY_PAIR = N_("{giver} (with {holder})")


# Read from outside as `texts.X`, every marked message comes in the language of the moment.
i18n.translating(__name__)
