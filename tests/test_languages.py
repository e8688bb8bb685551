"""A co-op in its own language, end to end (issue 20): amended to `language = es`, its cards,
buttons, results and reminders come in Spanish on Telegram (the real python-telegram-bot stack
against the fake Bot API, on a clock the test moves) and on Matrix (the real adapter against the
shared real Synapse); a member's own `language: fr` gets French answers to their taps, and a
member's own German reaches their direct reminder. The catalogs themselves: tests/test_catalogs.py."""

from __future__ import annotations

from handlers import texts
from handlers.events import VoteCast
from handlers.types import JOIN_NOTICE
from tests.conftest import Chat, make_coop
from tests.fakes.synapse import send_poll_response, send_text, wait_for_event
from tests.test_audits_telegram import MEMBERS, buttons, posted, sent_to, tg  # noqa: F401 (the clocked harness fixture)
from tests.test_matrix import POLL_END, POLL_START, body, bot, co_op_room, notice_with, people, say  # noqa: F401
from tests.test_telegram import GROUP, STEWARD, fake  # noqa: F401 (the fake Bot API fixture)
from tests.test_ways_platforms import answer


def card_starting(fake, start: str) -> tuple[int, dict]:
    for message_id, message in fake.messages(GROUP).items():
        if message["text"].startswith(start):
            return message_id, message
    raise AssertionError(f"no card starting {start!r}:\n{fake.summary()}")


async def test_telegram_a_co_op_in_spanish_a_member_in_french_and_one_in_german(tg, fake):
    author, french, typist = MEMBERS
    assert "set up" in await tg.say(STEWARD, "/setup Panadería Roja")
    for uid in MEMBERS:
        assert "admitted" in await tg.say(STEWARD, f"/admit {uid}")

    # The co-op amends its language like any key; the result still comes in the language it had.
    assert "Proposal #1: Hablar español" in await tg.say(author, "/propose Hablar español\n  amend: language = es")
    for uid in (STEWARD, *MEMBERS):
        assert await tg.say(uid, "/vote 1 For") == "Recorded: For on #1."
    fake.command(GROUP, STEWARD, "/close 1", first_name="user1")
    result = await posted(fake, "Result of #1 Hablar español: passed.")
    assert "The charter is amended: language = es." in result, result

    # From now on the room is written to in Spanish, and the commands are the same words.
    shown = await tg.say(typist, "/charter")
    assert "Idioma: español" in shown and "Zona horaria: UTC." in shown, shown
    assert await tg.say(typist, "/vot 2 For") == ("No conozco el comando 'vot': ¿querías decir /vote? "
                                                  "Escribe /help para ver la lista.")
    assert "Uso: /whoami" in await tg.say(typist, "/whoami\n  language: klingon")
    helped = await tg.say(typist, "/help whoami")
    assert helped.startswith("/whoami — ") and "Uso: /whoami" in helped and "  language: " in helped, helped

    # A member's own languages: French for what is sent to them alone, German for the steward. Said
    # in the group, the answer is in the group's language.
    assert await tg.say(french, "/whoami\n  language: fr") == (
        "A partir de ahora, lo que se te envía solo a ti (respuestas a tus toques, chats privados) está en français.")
    assert (await tg.say(STEWARD, "/whoami\n  language: de")).endswith("está en Deutsch.")

    fake.command(GROUP, author, "/propose Comprar una furgoneta\n  closes: 3d\nPara repartir el pan.",
                 first_name=f"user{author}")
    await posted(fake, "Propuesta #2: Comprar una furgoneta")
    message_id, card = card_starting(fake, "Propuesta #2:")
    assert "Opciones: 1. A favor · 2. En contra · 3. Abstención" in card["text"], card["text"]
    assert "Cierra" in card["text"] and "Closes" not in card["text"], card["text"]
    assert [b["text"] for b in buttons(card)] == ["A favor", "En contra", "Abstención", "Retirar mi voto"]
    data = {b["text"]: b["callback_data"] for b in buttons(card)}

    # Tap answers: in the co-op's language, or in the member's own.
    assert await tg.tap(author, message_id, data["A favor"]) == "Registrado: A favor en #2."
    assert await tg.tap(french, message_id, data["En contra"]) == "Enregistré : Contre sur #2."
    assert await tg.tap(french, message_id, data["A favor"]) == "Changé : Pour sur #2 (auparavant Contre)."
    # Typed options in the co-op's language or in English; the answer in the room's language.
    assert await tg.say(typist, "/vote 2 en contra") == "Registrado: En contra en #2."
    assert await tg.say(typist, "/vote 2 Against") == "Ya registrado: En contra en #2."
    # The card a member moved stays in the room's language.
    edited = await fake.wait_for(lambda f: "A favor 2 · En contra 1 · Abstención 0" in card_starting(f, "Propuesta #2:")[1]["text"]
                                 and card_starting(f, "Propuesta #2:")[1]["text"], timeout=15)
    assert "Pour" not in edited and "For" not in edited, edited

    # The reminder a day before the close: the room in Spanish, the steward (no vote yet) in German.
    tg.clock.advance(days=2, minutes=1)
    await tg.tick()
    reminder = await posted(fake, "Recordatorio: #2 Comprar una furgoneta cierra en ")
    assert "1 de 4 miembros aún no han votado" in reminder and "Vota con /vote 2 <opción>." in reminder, reminder
    told = await fake.wait_for(lambda f: [t for t in sent_to(f, STEWARD) if "Comprar una furgoneta" in t])
    assert told[0].startswith("Du hast über #2 Comprar una furgoneta in Panadería Roja noch nicht abgestimmt"), told

    # The result at the close, in Spanish.
    tg.clock.advance(days=1)
    await tg.tick()
    result = await posted(fake, "Resultado de #2 Comprar una furgoneta: aprobada.")
    assert "A favor 2 · En contra 1 · Abstención 0" in result, result
    # Voting is over: the card loses its buttons, and says so in Spanish.
    closed = await fake.wait_for(lambda f: not buttons(card_starting(f, "Propuesta #2:")[1])
                                 and card_starting(f, "Propuesta #2:")[1]["text"], timeout=15)
    assert "Closed" not in closed and "Votes" not in closed, closed


async def test_matrix_a_co_op_in_spanish(bot, people):
    """On Matrix: the card, the poll's question and answers, a poll answer and a typed vote, `remind`
    and the result, in Spanish once the charter says so."""
    alice, bob, carol = await people("alice", False), await people("bob", False), await people("carol", False)
    room_id = await co_op_room(bot, alice, encrypted=False, members=[bob, carol])
    await say(alice, room_id, "!propose Hablar español\namend: language = es", "Proposal #1: Hablar español")
    for who in (alice, bob, carol):
        await send_text(who, room_id, "!vote 1 For")
    await wait_for_event(alice, room_id, lambda s: "m.new_content" in s.get("content", {})
                         and "For 3 · Against 0 · Abstain 0" in body(s), 30)
    result = await say(alice, room_id, "!close 1", "Result of #1 Hablar español: passed.")
    assert "The charter is amended: language = es." in body(result), body(result)

    await send_text(bob, room_id, "!propose Comprar una furgoneta\ncloses: 48h")
    poll = await wait_for_event(carol, room_id, lambda s: s.get("type") == POLL_START and "furgoneta" in body(s), 30)
    start = poll["content"][POLL_START]
    assert [a["org.matrix.msc1767.text"] for a in start["answers"]] == ["A favor", "En contra", "Abstención"]
    assert "el recuento oficial es la ficha de arriba" in start["question"]["org.matrix.msc1767.text"], start
    card = await wait_for_event(carol, room_id, notice_with("Propuesta #2: Comprar una furgoneta"), 30)
    assert "Opciones: 1. A favor · 2. En contra · 3. Abstención" in body(card), body(card)
    assert "El recuento oficial es el de esta ficha" in body(card), body(card)

    answers = {a["org.matrix.msc1767.text"]: a["id"] for a in start["answers"]}
    await send_poll_response(carol, room_id, poll["event_id"], answers["En contra"])
    assert await answer(alice, room_id, "!vote 2 A favor") == "Registrado: A favor en #2."
    await wait_for_event(bob, room_id, lambda s: "m.new_content" in s.get("content", {})
                         and "A favor 1 · En contra 1 · Abstención 0" in body(s), 30)

    reminder = await say(bob, room_id, "!remind 2", "Recordatorio de ")
    assert "#2 Comprar una furgoneta cierra en " in body(reminder) and "1 de 3 miembros aún no han votado" in body(reminder)

    await send_text(alice, room_id, "!close 2 ya hemos hablado")
    result = await wait_for_event(carol, room_id, notice_with("Resultado de #2 Comprar una furgoneta"), 30)
    assert "A favor 1 · En contra 1 · Abstención 0" in body(result), body(result)
    assert "Este es el recuento oficial" in body(result), body(result)
    ended = await wait_for_event(carol, room_id, lambda s: s.get("type") == POLL_END
                                 and s["content"]["m.relates_to"]["event_id"] == poll["event_id"], 30)
    assert "Resultado de #2" in body(ended), body(ended)


# --- the rules, through the core (SQLite and PostgreSQL) ---
FRENCH_HEAD = "Propositions ouvertes dans {coop} :"
ROOM_REVISED = "alice ha revisado #2 Nuevo horario (revisión 1 de 5); su ficha muestra el nuevo texto."

async def spanish_coop(chat: Chat, clock) -> None:
    """Red Bakery, alice its steward and four members, amended to Spanish."""
    await make_coop(chat, members=4)
    await chat.say("alice", "/propose Hablar español\n  amend: language = es")
    for who in ("alice", "m1", "m2", "m3"):
        await chat.say(who, "/vote 1 For")
    assert "The charter is amended: language = es." in await chat.say("alice", "/close 1") + chat.last


async def test_what_a_member_does_in_a_direct_chat_is_announced_in_the_co_ops_language(chat, gov, clock):
    """A steward whose own language is French closes a proposal from a direct chat: the room's
    result is Spanish, as is the answer that goes with it; what only reads answers in French."""
    await spanish_coop(chat, clock)
    direct = Chat(gov, chat_id="dm-alice", direct=True)
    assert (await direct.say("alice", "/whoami\nlanguage: fr")).startswith("Désormais")
    await chat.say("m1", "/propose Comprar pan")
    assert chat.last.startswith("Propuesta #2: Comprar pan"), chat.last
    listed = await direct.say("alice", "/proposals")
    assert listed.startswith(FRENCH_HEAD.format(coop="Red Bakery")) and "#2 Comprar pan" in listed, listed
    shown = await direct.say("alice", "/show 2")
    assert shown.startswith("Proposition #2 : Comprar pan"), shown
    answer = await direct.say("alice", "/close 2 ya está")
    result = next(t for t in await chat.drain() + chat.announced if t.startswith("Resultado de #2"))
    assert "Resultado de #2 Comprar pan" in result and "Résultat" not in answer + result, (answer, result)


async def test_a_tap_is_answered_in_the_voters_language_only_where_it_reaches_them_alone(chat, gov, clock):
    await spanish_coop(chat, clock)
    await chat.say("m2", "/whoami\nlanguage: de")
    await chat.say("m1", "/propose Comprar pan")
    assert chat.last.startswith("Propuesta #2"), chat.last
    coop = await gov.stores.coops.get_by_room("console", "general")
    p = await gov.stores.proposals.get(coop.id, 2)
    alone = await gov.handle_vote(VoteCast(chat.chat, chat.user("m2"), p.id, 0, "tap-1", alone=True))
    assert alone[0].text == "Erfasst: Dafür zu #2.", alone[0].text
    # A poll's answer (Matrix): a refusal or an answer may be posted in the room, so in its language.
    in_room = await gov.handle_vote(VoteCast(chat.chat, chat.user("m2"), p.id, 1, "poll-1"))
    assert in_room[0].text == "Cambiado: En contra en #2 (antes: A favor).", in_room[0].text


async def test_a_renewal_is_known_by_its_english_title_in_a_co_op_that_speaks_spanish(chat, gov, clock):
    await spanish_coop(chat, clock)
    await chat.say("alice", "/propose Renew the co-op's mandate?\n  kind: constitutional")
    coop = await gov.stores.coops.get_by_room("console", "general")
    assert (await gov.stores.proposals.get(coop.id, 2)).purpose == "sunset"
    assert texts.is_sunset_title("¿Renovar el mandato de la cooperativa?")  # and in the co-op's own words
    assert not texts.is_sunset_title("Renew the co-op")


async def test_a_consent_proposal_in_spanish(chat, clock):
    await spanish_coop(chat, clock)
    await chat.say("m1", "/propose Nuevo horario\n  method: consent")
    assert "1. Consiento · 2. Abstención" in chat.last, chat.last
    assert await chat.say("m2", "/vote 2 consiento") == "Registrado: Consiento en #2."
    assert await chat.say("m3", "/vote 2 Consent") == "Registrado: Consiento en #2."


async def test_the_default_ballot_written_in_the_co_ops_language_is_the_bots_ballot(chat, gov, clock):
    """`options: A favor | En contra | Abstención` is the default ballot, counted For against Against
    with abstentions aside, not an election between three names."""
    await spanish_coop(chat, clock)
    await chat.say("m1", "/propose Pintar la tienda\n  options: A favor | En contra | Abstención")
    coop = await gov.stores.coops.get_by_room("console", "general")
    assert (await gov.stores.proposals.get(coop.id, 2)).options == ["For", "Against", "Abstain"]
    for who, option in (("alice", "A favor"), ("m1", "A favor"), ("m2", "Abstención"), ("m3", "Abstención")):
        await chat.say(who, f"/vote 2 {option}")
    result = await chat.say("alice", "/close 2") + "\n".join(chat.announced)
    assert "Resultado de #2 Pintar la tienda: aprobada." in result, result


async def test_a_ballot_members_wrote_is_shown_and_typed_as_they_wrote_it(chat, clock):
    """Only the bot's own ballot is translated: options a member wrote (even "For") stay theirs, so
    no two options can look alike and a typed name means what it says."""
    await spanish_coop(chat, clock)
    await chat.say("m1", "/propose Color\n  options: For | Against | En contra")
    card = chat.last
    assert "1. For · 2. Against · 3. En contra" in card, card
    assert await chat.say("m2", "/vote 2 En contra") == "Registrado: En contra en #2."
    # Not the bot's ballot: its "For" is not "A favor".
    assert (await chat.say("m3", "/vote 2 a favor")).startswith(
        "#2 no tiene la opción 'a favor'. Sus opciones son: 1. For, 2. Against, 3. En contra.")


async def test_the_room_notice_of_requests_to_join_is_in_the_co_ops_language(chat, gov, clock):
    await spanish_coop(chat, clock)
    await chat.say("zoe", "/join")
    notice = await gov.notice(JOIN_NOTICE, chat.chat)
    assert "zoe" in notice.text and "asks to join" not in notice.text, notice.text


async def test_a_language_this_version_has_no_catalog_for_reads_as_english(chat, gov, clock):
    await make_coop(chat, members=1)
    coop = await gov.stores.coops.get_by_room("console", "general")
    m1 = await gov.stores.members.by_account(coop.id, "console", "m1")
    await gov.stores.members.set_language(m1.id, "pt")  # stored by a later version, say
    assert "You are m1, a member of Red Bakery." in await chat.say("m1", "/whoami")
    assert "Usage: /whoami" in await chat.say("m1", "/whoami\nlanguage: pt")


async def test_a_word_to_one_member_alone_is_in_their_own_language(chat, gov, clock):
    """A proxy's holder and a voter whose vote a revision cleared are told directly, each in theirs."""
    await make_coop(chat, members=4)
    await chat.say("alice", "/propose Hablar español\n  amend: language = es; proxies = yes")
    for who in ("alice", "m1", "m2", "m3"):
        await chat.say(who, "/vote 1 For")
    await chat.say("alice", "/close 1")
    await Chat(gov, chat_id="dm-m2", direct=True).say("m2", "/whoami\nlanguage: de")
    await Chat(gov, chat_id="dm-m3", direct=True).say("m3", "/whoami\nlanguage: fr")

    await chat.say("m1", "/proxy m2\n  until: 30d")
    told = [i.text for i in await gov.stores.outbox.pending("console", chat_id="m2", limit=10)]
    assert any(t.startswith("m1 hat dir in Red Bakery die eigene Stimme geliehen (für jeden Antrag, der vor ")
               for t in told), told

    await chat.say("alice", "/propose Nuevo horario\n  method: consent")
    await chat.say("m3", "/vote 2 Consent")
    await chat.say("alice", "/revise 2\nDe lunes a jueves.")
    told = [i.text for i in await gov.stores.outbox.pending("console", chat_id="m3", limit=10)]
    assert any(t.startswith("alice a révisé #2 Nuevo horario dans Red Bakery : votre vote (Je consens) portait sur "
                            "l'ancien texte") for t in told), told
    assert chat.last.startswith(ROOM_REVISED), chat.last  # and the room, in the co-op's language
