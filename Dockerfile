FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    COOPBOT_DATA_DIR=/data

RUN useradd --system --create-home --home-dir /home/coopbot coopbot \
    && mkdir -p /data && chown coopbot:coopbot /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY schedules ./schedules
RUN pip install --no-cache-dir .

USER coopbot
WORKDIR /data
VOLUME ["/data"]
CMD ["coopbot", "run"]
