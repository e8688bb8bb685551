"""The translations (issue 20): every catalog complete, every placeholder kept, every message
rendered in every language; and the numbers, dates and money of each language."""

from __future__ import annotations

import string
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from handlers import i18n, texts
from handlers.i18n import Msgid
from handlers.money import format_amount

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "plural": (2, 3), "Count": (3, 4),
            "HalfOrCount": (3, 4)}  # as `make messages` extracts them (Makefile's EXTRACT)
TRANSLATED = [code for code in i18n.LANGUAGES if code != i18n.DEFAULT]


def _fields(text: str) -> list[str]:
    return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


def _extracted() -> dict[str | tuple[str, str], str]:
    """Every message the code marks, as pybabel extracts it, with where it is."""
    found = {}
    for filename, lineno, message, _, _ in extract_from_dir(
            str(ROOT), method_map=[("handlers/**.py", "python")], keywords=KEYWORDS):
        key = message if isinstance(message, str) else tuple(m for m in message if m)
        found.setdefault(key[0] if isinstance(key, tuple) and len(key) == 1 else key, f"{filename}:{lineno}")
    return found


MESSAGES = _extracted()


def _catalog(code: str):
    with (i18n.LOCALE_DIR / code / "LC_MESSAGES" / f"{i18n.DOMAIN}.po").open("rb") as f:
        return read_po(f, locale=code)


def test_the_code_marks_its_messages():
    assert len(MESSAGES) > 900
    assert "Only a steward of {coop} can do that." in MESSAGES  # a constant
    assert ("member", "members") in MESSAGES  # a plural
    assert "this room's co-op and your standing in it; your own language" in MESSAGES  # a verb's summary


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_catalog_is_complete_and_keeps_every_placeholder(code):
    catalog = _catalog(code)
    problems = []
    for key, where in MESSAGES.items():
        entry = catalog.get(key) or catalog.get(key[0] if isinstance(key, tuple) else key)
        if entry is None or entry.fuzzy:
            problems.append(f"{where}: {key!r} is not translated")
            continue
        ids = key if isinstance(key, tuple) else (key,)
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for i, form in enumerate(forms):
            source = ids[min(i, len(ids) - 1)]
            if not form.strip():
                problems.append(f"{where}: {source!r} has an empty form {i}")
            elif _fields(form) != _fields(source):
                problems.append(f"{where}: {source!r}: placeholders {_fields(form)} in {form!r}")
            elif form.count("\n") != source.count("\n"):
                problems.append(f"{where}: {source!r}: its lines differ in {form!r}")
    assert not problems, "\n".join(problems[:40]) + f"\n({len(problems)} in all)"


def _values(message: str) -> dict[str, object]:
    """A value for each placeholder of a message, of the kind its format spec needs."""
    out = {}
    for _, name, spec, _ in string.Formatter().parse(message):
        if name:
            out[name.split(".")[0].split("[")[0]] = 1234 if spec and spec[-1:] in ",d" else "<" + name + ">"
    return out


MARKED = {name: value for name, value in vars(texts).items() if isinstance(value, Msgid)}


@pytest.mark.parametrize("code", i18n.LANGUAGES)
def test_every_message_renders_in_every_language(code):
    assert len(MARKED) > 600
    with i18n.use(code):
        for name in MARKED:
            message = getattr(texts, name)
            rendered = message.format(**_values(MARKED[name]))
            for field in _values(MARKED[name]):
                if isinstance(_values(MARKED[name])[field], str):
                    assert f"<{field}" in rendered, (code, name, rendered)
        if code != i18n.DEFAULT:
            differ = [n for n in MARKED if getattr(texts, n) != MARKED[n]]
            assert len(differ) > 0.9 * len(MARKED), (code, len(differ), len(MARKED))


def test_the_language_of_one_event_does_not_leak_into_the_next():
    with i18n.scope():
        i18n.choose("de")
        assert texts.STATUS_WORDS["open"] != "open"
    assert texts.STATUS_WORDS["open"] == "open" and i18n.current() == "en"


def test_numbers_dates_and_money_as_each_language_writes_them():
    moment = datetime(2026, 12, 5, 15, 58, tzinfo=timezone.utc)
    amount = 123456789  # minor units: 1,234,567.89
    seen = {}
    for code in i18n.LANGUAGES:
        with i18n.use(code):
            seen[code] = (format_amount(amount, "EUR"), texts.plural(2000, "member", "members"), i18n.moment(moment),
                          i18n.percent(0.755, 1))
    assert seen["en"] == ("1,234,567.89 EUR", "2000 members", "Sat 05 Dec 2026 15:58", "75.5%")
    assert seen["de"][0] == "1.234.567,89 EUR" and seen["de"][1] == "2.000 Mitglieder"
    assert seen["es"][0] == "1.234.567,89 EUR" and "dic" in seen["es"][2] and seen["es"][3].startswith("75,5")
    assert seen["fr"][0].replace("\u202f", " ").replace("\xa0", " ") == "1 234 567,89 EUR"
    assert "déc." in seen["fr"][2] and "15:58" in seen["fr"][2]
