"""The language coopbot speaks at this moment: gettext catalogs (Babel), chosen per event."""

from __future__ import annotations

import logging
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal
from functools import cache
from gettext import GNUTranslations, NullTranslations
from io import BytesIO
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT = "en"
LANGUAGES = ("en", "es", "fr", "de")  # English is the source: its catalog is the messages themselves
NAMES = {"en": "English", "es": "español", "fr": "français", "de": "Deutsch"}
DOMAIN = "coopbot"
LOCALE_DIR = Path(__file__).parent / "locale"

# The language of the event being handled (or of the co-op whose due work is running). Set only
# inside `scope()`, so that one event's language never leaks into the next one on the same task.
_current: ContextVar[str] = ContextVar("language", default=DEFAULT)


class Msgid(str):
    """An English message marked for translation (`N_`): `texts` hands it out translated."""

    __slots__ = ()


def N_(message: str) -> Msgid:
    """Marks a message for extraction (pybabel) without translating it where it is declared."""
    return Msgid(message)


def current() -> str:
    return _current.get()


def normal(code: str | None) -> str | None:
    """`es`, `ES`, `es-MX`, `es_MX` → `es`; None for a language we have no catalog for."""
    if not code:
        return None
    base = code.strip().replace("-", "_").split("_")[0].lower()
    return base if base in LANGUAGES else None


def first(*codes: str | None) -> str:
    """The first of `codes` we have a catalog for (a member's own, then their co-op's), else English."""
    return next((code for code in map(normal, codes) if code), DEFAULT)


def name(code: str | None) -> str:
    """A language's own name; one stored that this version has no catalog for reads as English."""
    return NAMES[first(code)]


@contextmanager
def scope() -> Iterator[None]:
    """Whatever `choose` sets inside is undone on leaving: one event, one language."""
    token = _current.set(_current.get())
    try:
        yield
    finally:
        _current.reset(token)


def choose(code: str | None) -> None:
    """Speak `code` (a language of `LANGUAGES`; anything else is English) until the scope ends."""
    _current.set(normal(code) or DEFAULT)


@contextmanager
def use(code: str | None) -> Iterator[None]:
    """Speak `code` inside the block only."""
    with scope():
        choose(code)
        yield


def within(code: str | None, render, *args, **kwargs):
    """`render(*args, **kwargs)` written in `code`."""
    with use(code):
        return render(*args, **kwargs)


def everywhere(message: str) -> list[str]:
    """`message` in every language the bot speaks (what a member may have read, or typed, of it)."""
    return [within(code, gettext, message) for code in LANGUAGES]


@cache
def catalog(code: str) -> NullTranslations:
    """The compiled catalog (`make` runs `pybabel compile`); a checkout without it compiles the `.po`
    in memory, so a missing build step costs start-up time, never a language."""
    if code == DEFAULT:
        return NullTranslations()
    folder = LOCALE_DIR / code / "LC_MESSAGES"
    mo, po = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as f:
            return GNUTranslations(f)
    if not po.exists():
        logger.error("no catalog for %s: speaking English", code)
        return NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as f:
        compiled = BytesIO()
        write_mo(compiled, read_po(f, locale=code, domain=DOMAIN))
    compiled.seek(0)
    return GNUTranslations(compiled)


def gettext(message: str) -> str:
    return catalog(_current.get()).gettext(message)


def ngettext(one: str, many: str, n: int) -> str:
    return catalog(_current.get()).ngettext(one, many, n)


_ = gettext


def translated(value):
    """A message, or a table (dict, tuple) of them, in the current language; anything else as it is."""
    if isinstance(value, Msgid):
        return gettext(value)
    if isinstance(value, dict):
        return _table(_current.get(), id(value), value) if any(isinstance(v, Msgid) for v in value.values()) else value
    if isinstance(value, tuple) and any(isinstance(v, Msgid) for v in value):
        return _table(_current.get(), id(value), value)
    return value


_tables: dict[tuple[str, int], object] = {}


def _table(code: str, key: int, value):
    # A table of words (status names, refusals by reason) is translated once per language.
    found = _tables.get((code, key))
    if found is None:
        if isinstance(value, dict):
            found = {k: gettext(v) if isinstance(v, Msgid) else v for k, v in value.items()}
        else:
            found = tuple(gettext(v) if isinstance(v, Msgid) else v for v in value)
        _tables[(code, key)] = found
    return found


class _Translating(types.ModuleType):
    def __getattribute__(self, name: str):
        value = super().__getattribute__(name)
        return value if name.startswith("__") else translated(value)


def translating(module_name: str) -> None:
    """Make `module.X` read every marked message (and table of them) in the current language, so
    that call sites such as `texts.X.format(...)` stay as they are. Inside the module, `_(X)`."""
    sys.modules[module_name].__class__ = _Translating


# --- numbers, money and dates as the language writes them (Babel's CLDR data) ---

@cache
def _locale(code: str):
    """Babel's Locale, parsed once per language (parsing it at every call doubles a format's cost)."""
    from babel import Locale

    return Locale.parse(code)


def number(n: int | float | Decimal) -> str:
    """A count: English keeps the bare digits it always wrote (scripts read them); `1.000` (de)."""
    code = _current.get()
    if code == DEFAULT:
        return str(n)
    from babel.numbers import format_decimal

    return format_decimal(n, locale=_locale(code))


def decimal(value: Decimal, places: int) -> str:
    """`1,234.50` (en), `1.234,50` (de), `1 234,50` (fr): grouped, with exactly `places` decimals."""
    code = _current.get()
    if code == DEFAULT:  # what Babel writes for English too, without loading its locale data
        return f"{value:,.{places}f}"
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(value, format=pattern, locale=_locale(code), decimal_quantization=True)


def percent(value: float, places: int) -> str:
    """`75%`, `75.5%` (en), `75,5 %` (fr, es, de): a share, with `places` decimals, in the
    language's own percent pattern."""
    code = _current.get()
    if code == DEFAULT:  # a card shows its quorum at every vote: English needs no locale data
        return f"{value * 100:.{places}f}%"
    from babel.numbers import format_percent

    pattern = _locale(code).percent_formats[None].pattern  # "#,##0 %" (with a no-break space)
    last = pattern.rfind("0")
    pattern = pattern[:last + 1] + ("." + "0" * places if places else "") + pattern[last + 1:]
    return format_percent(value, format=pattern, locale=_locale(code))


def moment(local: datetime) -> str:
    """A local date and time. English keeps the form it always had (`Sat 05 Dec 2026 15:58`); the
    others use the language's own order and names (`sáb, 5 dic 2026, 15:58`), on a 24-hour clock."""
    code = _current.get()
    if code == DEFAULT:
        return local.strftime("%a %d %b %Y %H:%M")
    from babel.dates import format_skeleton

    return f"{format_skeleton('yMMMEd', local, locale=_locale(code))}, {local:%H:%M}"
