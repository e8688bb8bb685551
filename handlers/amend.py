"""Charter amendments: `amend: key = value; key = value` on a constitutional proposal."""

from __future__ import annotations

import difflib

from handlers import texts
from handlers.charter import BadAmendment, Charter, nested
from handlers.parsing import one_line

__all__ = ["BadAmendment", "changes", "parse", "patch"]


def parse(text: str, charter: Charter) -> tuple[Charter, list[str]]:
    """The charter as it would read after the amendment, and the changes in words. Every value is
    read and bounded by its key's declaration in handlers.charter.KEYS."""
    changes, said = {}, []
    for part in text.split(";"):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name, value = name.strip().lower().replace(" ", "_"), value.strip()
        if not sep or not value:
            raise BadAmendment(texts.AMEND_NOT_KEY_VALUE.format(text=one_line(part)[:60]))
        key = charter.key(name)
        if key is None:
            raise BadAmendment(_unknown(name, charter))
        if key.attr in changes:
            raise BadAmendment(texts.AMEND_KEY_TWICE.format(key=key.name))
        changes[key.attr] = key.value.parse(value, key.name)
        said.append(f"{key.name} = {one_line(value)}")
    if not said:
        raise BadAmendment(texts.AMEND_NOTHING)
    return charter.with_changes(**changes), said


def _unknown(name: str, charter: Charter) -> str:
    names = [k.name for k in charter.KEYS]
    guesses = difflib.get_close_matches(name, names, n=1)
    guess = texts.AMEND_GUESS.format(guess=guesses[0]) if guesses else ""
    return texts.AMEND_UNKNOWN_KEY.format(key=one_line(name)[:40], guess=guess, keys=", ".join(names))


def changes(before: Charter, after: Charter) -> list[list[str]]:
    """Each key the amendment changes, with its value before and after in words: what the card shows."""
    return [[k.name, k.value.show(getattr(before, k.attr)), k.value.show(getattr(after, k.attr))]
            for k in before.KEYS if getattr(before, k.attr) != getattr(after, k.attr)]


def patch(before: Charter, after: Charter) -> dict:
    """Only the stored leaves the amendment changes, nested as stored. Decided later, it is merged
    into the charter as it is then (storage merges nested keys), so two amendments decided one
    after the other both hold, even when both touch the same kind's rule."""
    # Every leaf of a changed key, not only the leaves that differ: a threshold is a share and a
    # strictness, and two amendments merged leaf by leaf could make one no amendment passed
    # ("at least 1/2" from "at least 3/5" and "more than 1/2").
    leaves = {}
    for k in before.KEYS:
        if getattr(before, k.attr) != getattr(after, k.attr):
            leaves.update(zip(k.json, k.value.dump(getattr(after, k.attr))))
    return nested(leaves)
