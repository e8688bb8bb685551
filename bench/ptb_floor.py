"""B1's floor: the least a python-telegram-bot bot does for a tap (answer it), with the library's
defaults, in its own process.

    python -m bench.ptb_floor --token 1:abc --api http://127.0.0.1:8081

The library's default HTTP client (httpx, for both the calls and getUpdates) and polling loop,
which handles one update at a time; `--concurrent N` handles N at once (for comparisons)."""

from __future__ import annotations

import argparse
import logging

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

logger = logging.getLogger("bench.ptb_floor")


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.callback_query.answer()


async def ready(app: Application) -> None:
    # The driver waits for this line, as it waits for coopbot's.
    logger.info("floor is ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--token", required=True)
    parser.add_argument("--api", required=True, help="root URL of the Bot API server")
    parser.add_argument("--concurrent", type=int, default=0, help="updates handled at once (0: the default, 1)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    root = args.api.rstrip("/")
    builder = Application.builder().token(args.token).base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
    if args.concurrent:
        builder = builder.concurrent_updates(args.concurrent)
    app = builder.post_init(ready).build()
    app.add_handler(CallbackQueryHandler(answer))
    app.run_polling(allowed_updates=[Update.CALLBACK_QUERY])


if __name__ == "__main__":
    main()
