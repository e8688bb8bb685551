"""The drift timeline on the platforms: on Telegram, the real python-telegram-bot stack against the
fake Bot API (the text as a reply, the PNG by sendPhoto as a multipart upload); on Matrix, against
the session's Synapse (the text, then an m.image whose mxc:// content is the PNG); the calendar's .ics as
an m.file through the same attachment path."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.fakes.synapse import wait_for_event
from tests.fakes.telegram_api import FakeBotAPI
from tests.test_matrix import body, bot, co_op_room, people, say  # noqa: F401 (the Matrix bot and member fixtures)
from tests.test_telegram import GROUP, STEWARD, fake, tg  # noqa: F401 (the fake Bot API and harness fixtures)


async def test_timeline_on_telegram_sends_its_text_and_a_png_by_send_photo(tg, fake: FakeBotAPI):
    assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
    assert "admitted" in await tg.say(STEWARD, "/admit 2")
    assert (await tg.say(2, "/drift We stopped rotating the till")).startswith("Drift 1 on the")
    await tg.say(STEWARD, "/drift Pay talk moved to stewards only")
    text = await tg.say(2, "/timeline")
    assert text.startswith("The drift timeline of Red Bakery, oldest first:") and text.endswith("2 entries."), text
    [call] = await fake.wait_for(lambda f: [c for c in f.calls_to("sendPhoto") if c.ok])
    assert call.params["chat_id"] == GROUP and call.http_method == "POST"
    message = call.result
    data = fake.photos[(GROUP, message["message_id"])]
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.width == 1400
    assert [p["width"] for p in message["photo"]] == [90, 320, 800, 1280]
    # The photo comes after the text it illustrates.
    sends = [c for c in fake.calls if c.method in ("sendMessage", "sendPhoto") and c.ok]
    assert sends[-1].method == "sendPhoto" and sends[-2].params["text"] == text


async def _download(synapse, client, mxc: str) -> bytes:
    """The media's bytes, through Synapse's authenticated media API, as the member's client."""
    import aiohttp

    server, media_id = mxc.removeprefix("mxc://").split("/", 1)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{synapse.base_url}/_matrix/client/v1/media/download/{server}/{media_id}",
                            headers={"Authorization": f"Bearer {client.access_token}"}) as response:
            assert response.status == 200, await response.text()
            return await response.read()


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_timeline_on_matrix_posts_its_text_then_an_m_image_of_the_png(synapse, bot, people, encrypted):
    from nio.crypto.attachments import decrypt_attachment

    alice, bob = await people("alice"), await people("bob")
    room_id = await co_op_room(bot, alice, encrypted=encrypted, members=[bob])
    await say(bob, room_id, "!drift We stopped rotating the till", "Drift 1 on the")
    text = await say(bob, room_id, "!timeline", "The drift timeline of Red Bakery")
    assert body(text).endswith("1 entry.") and "— drift — drift 1: We stopped rotating the till" in body(text)
    event = await wait_for_event(bob, room_id, lambda s: s.get("content", {}).get("msgtype") == "m.image", 30)
    content = event["content"]
    assert content["body"] == "timeline.png" and content["info"]["mimetype"] == "image/png"
    if encrypted:
        data = decrypt_attachment(await _download(synapse, bob, content["file"]["url"]), content["file"]["key"]["k"],
                                  content["file"]["hashes"]["sha256"], content["file"]["iv"])
        assert "url" not in content
    else:
        data = await _download(synapse, bob, content["url"])
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (content["info"]["w"], content["info"]["h"])
    assert content["info"]["size"] == len(data)


async def test_calendar_on_matrix_posts_its_text_then_an_encrypted_m_file_of_the_ics(synapse, bot, people):
    """The same attachment path carries the calendar's .ics as an m.file (encrypted room)."""
    import icalendar
    from nio.crypto.attachments import decrypt_attachment

    alice, bob = await people("alice"), await people("bob")
    room_id = await co_op_room(bot, alice, encrypted=True, members=[bob])
    await say(bob, room_id, "!calendar", "Calendar of Red Bakery")
    event = await wait_for_event(bob, room_id, lambda s: s.get("content", {}).get("msgtype") == "m.file", 30)
    content = event["content"]
    assert content["body"] == "calendar.ics" and content["info"]["mimetype"] == "text/calendar" and "url" not in content
    data = decrypt_attachment(await _download(synapse, bob, content["file"]["url"]), content["file"]["key"]["k"],
                              content["file"]["hashes"]["sha256"], content["file"]["iv"])
    assert content["info"]["size"] == len(data)
    assert any(str(e["SUMMARY"]).startswith("liberation audit") for e in icalendar.Calendar.from_ical(data).walk("VEVENT"))
