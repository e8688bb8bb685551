"""Draws anyone can replay: fixed vectors, worked out here from the SPEC's words, and the replay snippet."""

from __future__ import annotations

import contextlib
import hashlib
import io

import pytest

from handlers.draws import commitment, key, new_secret, picks, replay_snippet, value

SECRET = bytes(range(32))
COMMITMENT = "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"  # sha256 of 00 01 … 1f
CONTRIBUTIONS = ["red kite at dawn", "ünïcode 🌱", "42"]
POOL = ["Ana", "Ben", "Chiara", "Dev", "Eun", "Femi", "Gus", "Hana"]  # register order
ORGANISATIONS = {"Ana": "Riders Union", "Ben": "Riders Union", "Chiara": "Riders Union",
                 "Dev": "Tenants", "Eun": "Tenants"}  # the others belong to none


def spec_draw(secret_hex: str, contributions: list[str], pool: list[str], seats: int,
              organisations: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """SPEC 'Draws anyone can replay', steps 3 and 4, with at most one seat per organisation."""
    organisations = organisations or {}
    k = hashlib.sha256((secret_hex + "\n" + "\n".join(contributions)).encode("utf-8")).digest()
    left, seated, skipped, j = list(pool), [], [], 0
    while left and len(seated) < seats:
        j += 1
        h = hashlib.sha256(k + j.to_bytes(4, "big")).digest()
        person = left.pop(int.from_bytes(h, "big") % len(left))
        if person in organisations and organisations[person] in {organisations.get(s) for s in seated}:
            skipped.append(person)  # its organisation holds a seat: skipped, the next value decides
        else:
            seated.append(person)
    return seated, skipped


def test_commitment_and_key():
    """C = sha256(secret) in hex; K = sha256 of the secret's hex and the contributions, one per line."""
    assert commitment(SECRET) == COMMITMENT == hashlib.sha256(SECRET).hexdigest()
    assert key(SECRET.hex(), CONTRIBUTIONS) == hashlib.sha256(
        ("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
         "red kite at dawn\nünïcode 🌱\n42").encode("utf-8")).digest()
    assert key(SECRET.hex(), []) == hashlib.sha256((SECRET.hex() + "\n").encode()).digest()
    assert value(b"K", 1) == int.from_bytes(hashlib.sha256(b"K\x00\x00\x00\x01").digest(), "big")
    secret = new_secret()
    assert len(secret) == 32 and secret != new_secret()


def test_a_fixed_draw():
    """The vector: the SPEC's lines here and the module agree, and both give the pinned picks."""
    k = key(SECRET.hex(), CONTRIBUTIONS)
    result = picks(k, POOL, 3)
    assert list(result.seated) == spec_draw(SECRET.hex(), CONTRIBUTIONS, POOL, 3)[0] == ["Dev", "Gus", "Ana"]
    assert result.skipped == () and result.unfilled == 0 and result.values == 3


def test_the_order_of_contributions_matters():
    reordered = list(reversed(CONTRIBUTIONS))
    assert key(SECRET.hex(), reordered) != key(SECRET.hex(), CONTRIBUTIONS)
    result = picks(key(SECRET.hex(), reordered), POOL, 3)
    assert list(result.seated) == spec_draw(SECRET.hex(), reordered, POOL, 3)[0] == ["Gus", "Ana", "Eun"]


def test_one_seat_per_organisation_skips_a_person_and_takes_the_next_value():
    """Chiara is drawn after Ana took the Riders Union's seat: skipped, and the next value seats Hana."""
    k = key(SECRET.hex(), CONTRIBUTIONS)
    result = picks(k, POOL, 5, organisation=ORGANISATIONS.get)
    expected = spec_draw(SECRET.hex(), CONTRIBUTIONS, POOL, 5, ORGANISATIONS)
    assert (list(result.seated), list(result.skipped)) == expected
    assert expected == (["Dev", "Gus", "Ana", "Femi", "Hana"], ["Chiara"])
    assert result.unfilled == 0 and result.values == 6
    # Without the limit the same values seat Chiara.
    assert list(picks(k, POOL, 5).seated) == ["Dev", "Gus", "Ana", "Femi", "Chiara"]


def test_more_seats_than_people_seats_everyone_who_can_be_seated():
    k = key(SECRET.hex(), CONTRIBUTIONS)
    everyone = picks(k, POOL, 20)
    assert sorted(everyone.seated) == sorted(POOL) and everyone.unfilled == 12 and everyone.skipped == ()
    assert list(everyone.seated) == spec_draw(SECRET.hex(), CONTRIBUTIONS, POOL, 20)[0]
    # Five people of two organisations fill two of four seats; the others are skipped.
    limited = picks(k, POOL[:5], 4, organisation=ORGANISATIONS.get)
    assert (list(limited.seated), list(limited.skipped)) == spec_draw(
        SECRET.hex(), CONTRIBUTIONS, POOL[:5], 4, ORGANISATIONS) == (["Ben", "Eun"], ["Ana", "Chiara", "Dev"])
    assert limited.unfilled == 2
    assert picks(k, [], 2).unfilled == 2
    with pytest.raises(ValueError):
        picks(k, POOL, 0)


def run(snippet: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(snippet, {})  # as a member runs it: a fresh namespace, its output read
    return out.getvalue()


def test_the_replay_snippet_prints_the_same_picks():
    """A member pastes it into Python: standard library only, short, and the bot's own result."""
    organisations = [ORGANISATIONS.get(name) for name in POOL]
    snippet = replay_snippet(COMMITMENT, SECRET.hex(), CONTRIBUTIONS, POOL, 5, organisations)
    assert [line for line in snippet.splitlines() if "import" in line] == ["import hashlib"]
    assert len(snippet.splitlines()) <= 17
    assert run(snippet) == "4. Dev\n7. Gus\n1. Ana\n6. Femi\n8. Hana\n"
    plain = replay_snippet(COMMITMENT, SECRET.hex(), CONTRIBUTIONS, POOL, 3)
    assert run(plain) == "4. Dev\n7. Gus\n1. Ana\n"
    # Names and contributions are Python literals, whatever members typed.
    odd = ['"); print("pwned', "O'Brien\nnewline"]
    assert run(replay_snippet(COMMITMENT, SECRET.hex(), odd, odd, 2)).count("pwned") == 1
    with pytest.raises(AssertionError, match="committed"):
        run(replay_snippet(COMMITMENT, "00" * 32, CONTRIBUTIONS, POOL, 3))
    with pytest.raises(ValueError):
        replay_snippet(COMMITMENT, SECRET.hex(), CONTRIBUTIONS, POOL, 3, organisations[:2])
