FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    COOPBOT_DATA_DIR=/data

RUN useradd --system --create-home --home-dir /home/coopbot coopbot \
    && mkdir -p /data && chown coopbot:coopbot /data

WORKDIR /app
COPY pyproject.toml README.md babel.cfg ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY schedules ./schedules
# The translations are compiled where they are installed (gettext .mo files from the .po catalogs).
RUN pip install --no-cache-dir . \
    && pybabel compile -D coopbot -d "$(python -c 'import handlers, os; print(os.path.dirname(handlers.__file__))')/locale"

USER coopbot
WORKDIR /data
VOLUME ["/data"]
CMD ["coopbot", "run"]
