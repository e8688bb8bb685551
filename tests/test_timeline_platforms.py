"""The drift timeline on the platforms: on Telegram, the real python-telegram-bot stack against the
fake Bot API (the text as a reply, the PNG by sendPhoto as a multipart upload); on Matrix, against
the session's Synapse (the text, then an m.image whose mxc:// content is the PNG)."""

from __future__ import annotations

import io

from PIL import Image

from tests.fakes.telegram_api import FakeBotAPI
from tests.test_telegram import GROUP, STEWARD, fake, tg  # noqa: F401 (the fake Bot API and harness fixtures)


async def test_timeline_on_telegram_sends_its_text_and_a_png_by_send_photo(tg, fake: FakeBotAPI):
    assert "set up" in await tg.say(STEWARD, "/setup Red Bakery")
    assert "admitted" in await tg.say(STEWARD, "/admit 2")
    assert (await tg.say(2, "/drift We stopped rotating the till\nwhen: 2026-01-05")).startswith("Drift D1 on the")
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
