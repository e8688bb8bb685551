"""The Telegram adapter, on python-telegram-bot."""

import os

# Opt in now to python-telegram-bot's coming `retry_after` as a timedelta (the adapter reads
# both forms), instead of a deprecation warning on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "1")
