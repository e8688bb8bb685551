"""A real Synapse homeserver on 127.0.0.1 for tests, with helpers that drive matrix-nio clients."""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

import nio

SERVER_NAME = "coopbot.test"
START_TIMEOUT = 60.0
STOP_GRACE = 10.0

# Every limiter Synapse reads (synapse/config/ratelimiting.py), raised so tests never wait.
_LIMIT = {"per_second": 1000, "burst_count": 1000}
RATE_LIMITS: dict[str, Any] = {
    "rc_message": _LIMIT,
    "rc_registration": _LIMIT,
    "rc_registration_token_validity": _LIMIT,
    "rc_login": {"address": _LIMIT, "account": _LIMIT, "failed_attempts": _LIMIT},
    "rc_joins": {"local": _LIMIT, "remote": _LIMIT},
    "rc_joins_per_room": _LIMIT,
    "rc_invites": {"per_room": _LIMIT, "per_user": _LIMIT, "per_issuer": _LIMIT},
    "rc_third_party_invite": _LIMIT,
    "rc_3pid_validation": _LIMIT,
    "rc_admin_redaction": _LIMIT,
    "rc_key_requests": _LIMIT,
    "rc_media_create": _LIMIT,
    "rc_presence": {"per_user": _LIMIT},
    "rc_delayed_event_mgmt": _LIMIT,
    "rc_room_creation": _LIMIT,
    "rc_reports": _LIMIT,
    "rc_user_directory": _LIMIT,
    "rc_profile": _LIMIT,
}

# Polls as Element sends them today (MSC3381, unstable prefix); pass STABLE_POLL_RESPONSE for m.poll.response.
UNSTABLE_POLL_RESPONSE = "org.matrix.msc3381.poll.response"
STABLE_POLL_RESPONSE = "m.poll.response"

# urllib must never go through a proxy from the environment: everything here is on loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class SynapseError(AssertionError):
    """An admin or client call to the homeserver failed; `errcode` is Matrix's (e.g. M_USER_IN_USE)."""

    def __init__(self, message: str, status: int | None = None, errcode: str | None = None):
        super().__init__(message)
        self.status = status
        self.errcode = errcode


class UserExists(SynapseError):
    """`register` was asked for a localpart that is already taken."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(response: Any, expected: type | tuple[type, ...]) -> Any:
    """nio answers errors with a response object instead of raising: turn those into AssertionError."""
    if not isinstance(response, expected):
        detail = getattr(response, "message", None) or response
        code = getattr(response, "status_code", None)
        raise AssertionError(f"nio call failed: {type(response).__name__} {code or ''}: {detail}")
    return response


class Homeserver:
    """One Synapse process in a directory of its own (config, SQLite database, media, logs).

    hs = Homeserver(); hs.start(); ...; hs.stop()   # or `with Homeserver() as hs:`
    The directory is kept after stop() for debugging; cleanup() removes it if it was a temp dir.
    """

    def __init__(
        self,
        base_dir: str | os.PathLike | None = None,
        server_name: str = SERVER_NAME,
        extra_config: dict[str, Any] | None = None,
    ):
        self._own_dir = base_dir is None
        self.extra_config = dict(extra_config or {})  # merged over config() (the benchmarks turn push off)
        self.dir = Path(base_dir or tempfile.mkdtemp(prefix="coopbot-synapse-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.server_name = server_name
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.shared_secret = os.urandom(16).hex()
        self.config_path = self.dir / "homeserver.yaml"
        self.log_path = self.dir / "homeserver.log"
        self.output_path = self.dir / "stdout-stderr.log"
        self.process: subprocess.Popen | None = None
        self.startup_seconds: float | None = None
        self._admin: tuple[str, str] | None = None
        self._passwords: dict[str, str] = {}
        self._write_config()

    # ---- configuration and process -------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        d = self.dir
        return {
            "server_name": self.server_name,
            "public_baseurl": self.base_url + "/",
            "pid_file": str(d / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "type": "http",
                    "tls": False,
                    "bind_addresses": ["127.0.0.1"],
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(d / "homeserver.db")}},
            "log_config": str(d / "log.config.yaml"),
            "media_store_path": str(d / "media_store"),
            "signing_key_path": str(d / "signing.key"),
            "registration_shared_secret": self.shared_secret,
            "macaroon_secret_key": os.urandom(16).hex(),
            "form_secret": os.urandom(16).hex(),
            "enable_registration": False,
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "url_preview_enabled": False,
            "presence": {"enabled": False},
            "enable_metrics": False,
            "bcrypt_rounds": 4,  # registration and password login cost milliseconds, not ~0.3 s each
            **RATE_LIMITS,
            **self.extra_config,
        }

    def _write_config(self) -> None:
        log_config = {
            "version": 1,
            "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "formatter": "plain",
                    "filename": str(self.log_path),
                    "level": "WARNING",
                }
            },
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }
        # JSON is YAML: no need for a YAML writer here.
        (self.dir / "log.config.yaml").write_text(json.dumps(log_config, indent=2))
        self.config_path.write_text(json.dumps(self.config(), indent=2))
        (self.dir / "media_store").mkdir(exist_ok=True)

    def _generate_signing_key(self) -> None:
        key_path = self.dir / "signing.key"
        if key_path.exists():
            return
        from signedjson.key import generate_signing_key, write_signing_keys  # a Synapse dependency

        with key_path.open("w") as f:
            write_signing_keys(f, [generate_signing_key("a_test")])

    def start(self, timeout: float = START_TIMEOUT) -> "Homeserver":
        """Start Synapse and wait until /_matrix/client/versions answers; fail with the log's tail."""
        if self.process is not None:
            return self
        self._generate_signing_key()
        began = time.monotonic()
        out = self.output_path.open("ab")
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: stop() signals the whole group
        )
        out.close()
        atexit.register(self.stop)  # also when the test process exits without running teardown
        deadline = began + timeout
        while True:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise RuntimeError(f"Synapse exited with {code} while starting\n{self.log_tail()}")
            try:
                status, _ = self._request("GET", "/_matrix/client/versions", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Synapse did not answer within {timeout:.0f} s\n{self.log_tail()}")
            time.sleep(0.1)
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after 10 s; the directory stays for debugging."""
        proc, self.process = self.process, None
        atexit.unregister(self.stop)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)

    def cleanup(self) -> None:
        """Stop, and remove the directory if this object made it."""
        self.stop()
        if self._own_dir:
            import shutil

            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Homeserver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_tail(self, lines: int = 60) -> str:
        parts = []
        for path in (self.output_path, self.log_path):
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path} (last {len(text)} lines) ---\n" + "\n".join(text))
        return "\n".join(parts) or "(no Synapse output)"

    # ---- plain HTTP on loopback (admin API) ----------------------------------------------------

    def _request(
        self, method: str, path: str, body: Any = None, token: str | None = None, timeout: float = 10
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with _OPENER.open(req, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw)
            except ValueError:
                return err.code, {"error": raw.decode(errors="replace")}

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """Any client or admin API call, e.g. api("GET", f"/_matrix/client/v3/rooms/{r}/event/{e}", token=t);
        raises SynapseError on a non-200 answer."""
        status, payload = self._request(method, path, body, token)
        if status != 200:
            errcode = payload.get("errcode") if isinstance(payload, dict) else None
            raise SynapseError(f"{method} {path} -> {status}: {payload}", status, errcode)
        return payload

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    def register_sync(self, localpart: str, password: str = "password", admin: bool = False) -> tuple[str, str]:
        """Create a user with the shared-secret admin API; raise UserExists if the localpart is taken."""
        nonce = self.api("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), localpart.encode(), password.encode(), b"admin" if admin else b"notadmin"]))
        body = {"nonce": nonce, "username": localpart, "password": password, "admin": admin, "mac": mac.hexdigest()}
        try:
            answer = self.api("POST", "/_synapse/admin/v1/register", body)
        except SynapseError as err:
            if err.errcode == "M_USER_IN_USE":
                raise UserExists(f"user {self.user_id(localpart)} already exists", err.status, err.errcode) from None
            raise
        self._passwords[localpart] = password
        return answer["user_id"], answer["access_token"]

    async def register(self, localpart: str, password: str = "password", admin: bool = False) -> tuple[str, str]:
        """Async register_sync (runs the blocking loopback call in a thread)."""
        return await asyncio.to_thread(self.register_sync, localpart, password, admin)

    @property
    def admin_token(self) -> str:
        """Access token of a server admin, registered on first use as @coopbot-admin."""
        if self._admin is None:
            self._admin = self.register_sync("coopbot-admin", "admin-password", admin=True)
        return self._admin[1]

    def override_ratelimit(self, user_id: str, messages_per_second: int = 0, burst_count: int = 0) -> dict:
        """Per-user rate limit (0/0 means no limit at all) through the admin API."""
        path = f"/_synapse/admin/v1/users/{urllib.parse.quote(user_id)}/override_ratelimit"
        body = {"messages_per_second": messages_per_second, "burst_count": burst_count}
        return self.api("POST", path, body, token=self.admin_token)

    # ---- nio clients ---------------------------------------------------------------------------

    @staticmethod
    def device_id_for(localpart: str) -> str:
        return "COOPBOT_" + "".join(c if c.isalnum() else "_" for c in localpart).upper()

    async def member_client(
        self,
        localpart: str,
        store_dir: str | os.PathLike,
        encrypted: bool = True,
        password: str = "password",
        device_id: str | None = None,
    ) -> nio.AsyncClient:
        """A logged-in nio client (registered first if this object has not), keys uploaded, synced once."""
        if localpart not in self._passwords:
            try:
                await self.register(localpart, password)
            except UserExists:
                pass  # registered by someone else (another Homeserver object): log in with `password`
        password = self._passwords.get(localpart, password)
        device_id = device_id or self.device_id_for(localpart)
        store_path = Path(store_dir) / localpart
        store_path.mkdir(parents=True, exist_ok=True)
        config = nio.AsyncClientConfig(encryption_enabled=encrypted, store_sync_tokens=True)
        client = nio.AsyncClient(
            self.base_url,
            self.user_id(localpart),
            device_id=device_id,
            store_path=str(store_path),
            config=config,
        )
        try:
            check(await client.login(password, device_name=f"coopbot test {localpart}"), nio.LoginResponse)
            if encrypted:
                client.load_store()  # login does this too; a no-op when already loaded
                try:
                    await crypto_housekeeping(client)  # upload device and one-time keys before anyone sends
                except AssertionError as err:
                    if "already exists" not in str(err):
                        raise
                    raise AssertionError(
                        f"device {device_id} of {client.user_id} already has keys from another store: "
                        f"reuse the same store_dir, or pass another device_id ({err})"
                    ) from None
            await sync(client, timeout_ms=0, full_state=True)
        except BaseException:
            await client.close()
            raise
        return client


# ---- helpers on nio clients (module level: they need no Homeserver) -----------------------------


async def crypto_housekeeping(client: nio.AsyncClient) -> None:
    """What sync_forever does between syncs: upload/query/claim keys, flush queued to-device messages."""
    if client.olm is None:
        return
    if client.should_upload_keys:
        check(await client.keys_upload(), nio.KeysUploadResponse)
    if client.should_query_keys:
        check(await client.keys_query(), nio.KeysQueryResponse)
    if client.should_claim_keys:
        check(await client.keys_claim(client.get_users_for_key_claiming()), nio.KeysClaimResponse)
    if client.outgoing_to_device_messages:
        for answer in await client.send_to_device_messages():
            check(answer, nio.ToDeviceResponse)


def _inbox(client: nio.AsyncClient) -> list[tuple[str, Any]]:
    # (room_id, event) for every timeline event this client got through these helpers' syncs
    # and wait_for_event has not returned yet; undecryptable MegolmEvents stay until they decrypt.
    if not hasattr(client, "_coopbot_inbox"):
        client._coopbot_inbox = []
    return client._coopbot_inbox


async def sync(client: nio.AsyncClient, timeout_ms: int = 0, full_state: bool | None = None) -> nio.SyncResponse:
    """One /sync with Synapse's default filter (its timeline limit untouched), then key housekeeping;
    the timeline events are kept for wait_for_event."""
    since = client.next_batch or client.loaded_sync_token
    response = check(await client.sync(timeout=timeout_ms, full_state=full_state), nio.SyncResponse)
    inbox = _inbox(client)
    for room_id, room in response.rooms.join.items():
        events = list(room.timeline.events)  # nio already decrypted what it could
        if room.timeline.limited and since and room.timeline.prev_batch:
            events = await _backfill(client, room_id, room.timeline.prev_batch, since) + events
        inbox.extend((room_id, event) for event in events)
    await crypto_housekeeping(client)
    return response


async def _backfill(client: nio.AsyncClient, room_id: str, prev_batch: str, since: str) -> list[Any]:
    # A "limited" sync timeline (more new events than the filter's limit, 10 by Synapse's default)
    # leaves a gap between the previous sync and prev_batch: page backwards through it.
    older: list[Any] = []
    start = prev_batch
    while True:
        page = check(
            await client.room_messages(room_id, start=start, end=since, direction=nio.MessageDirection.back, limit=100),
            nio.RoomMessagesResponse,
        )
        older.extend(page.chunk)
        if not page.chunk or not page.end or page.end == start:
            break
        start = page.end
    return list(reversed(older))


async def create_room(
    client: nio.AsyncClient,
    name: str,
    invite: list[str] | tuple[str, ...] = (),
    encrypted: bool = False,
    direct: bool = False,
) -> str:
    """Create a private room (megolm-encrypted if asked) inviting `invite`, and sync it.

    direct=True: preset trusted_private_chat, is_direct on the invites, no room name, and the
    creator's m.direct account data lists the room (as Element does)."""
    initial_state = []
    if encrypted:
        initial_state.append(
            {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
        )
    answer = check(
        await client.room_create(
            name=None if direct else name,
            invite=list(invite),
            is_direct=direct,
            preset=nio.RoomPreset.trusted_private_chat if direct else nio.RoomPreset.private_chat,
            initial_state=initial_state,
        ),
        nio.RoomCreateResponse,
    )
    if direct:
        path = f"/_matrix/client/v3/user/{urllib.parse.quote(client.user_id)}/account_data/m.direct"
        body = json.dumps({user: [answer.room_id] for user in invite})
        headers = {"Authorization": f"Bearer {client.access_token}", "Content-Type": "application/json"}
        async with await client.send("PUT", path, body, headers) as resp:
            if resp.status != 200:
                raise AssertionError(f"setting m.direct failed: {resp.status} {await resp.text()}")
    await sync(client)
    return answer.room_id


async def join(client: nio.AsyncClient, room_id: str) -> None:
    """Join (an invited room) and sync, so the client knows the room and its members."""
    check(await client.join(room_id), nio.JoinResponse)
    await sync(client)


async def _prepare_send(client: nio.AsyncClient, room_id: str) -> None:
    # The sender must know the room (and that it is encrypted) and every member's devices;
    # nio only queries keys itself when the room's members were never loaded.
    await sync(client)
    if room_id not in client.rooms:
        raise AssertionError(f"{client.user_id} is not in room {room_id}")
    room = client.rooms[room_id]
    if room.encrypted:
        if not room.members_synced:
            check(await client.joined_members(room_id), nio.JoinedMembersResponse)
            await crypto_housekeeping(client)


async def send_event(
    client: nio.AsyncClient, room_id: str, event_type: str, content: dict[str, Any]
) -> str:
    """Send any room event (encrypted for every member's device if the room is); return its event id."""
    await _prepare_send(client, room_id)
    answer = check(
        await client.room_send(room_id, event_type, content, ignore_unverified_devices=True),
        nio.RoomSendResponse,
    )
    return answer.event_id


async def send_text(client: nio.AsyncClient, room_id: str, body: str) -> str:
    """Send an m.text message; return its event id."""
    return await send_event(client, room_id, "m.room.message", {"msgtype": "m.text", "body": body})


async def send_poll_response(
    client: nio.AsyncClient,
    room_id: str,
    poll_event_id: str,
    answer_id: str,
    event_type: str = UNSTABLE_POLL_RESPONSE,
    content: dict[str, Any] | None = None,
) -> str:
    """Vote in a poll as Element does (MSC3381 unstable form); STABLE_POLL_RESPONSE or `content` for others."""
    if content is None:
        relation = {"rel_type": "m.reference", "event_id": poll_event_id}
        if event_type == STABLE_POLL_RESPONSE:
            content = {"m.relates_to": relation, "m.selections": [answer_id]}
        else:
            content = {"m.relates_to": relation, UNSTABLE_POLL_RESPONSE: {"answers": [answer_id]}}
    return await send_event(client, room_id, event_type, content)


async def wait_for_event(
    client: nio.AsyncClient,
    room_id: str,
    predicate: Callable[[dict[str, Any]], bool],
    timeout: float = 20,
) -> dict[str, Any]:
    """Sync until an event in room_id matches predicate(source); return that source dict.

    Looks first at events the client already got through these helpers' syncs (member_client,
    create_room, join, send_*, earlier waits) that no wait_for_event returned yet, oldest first,
    so an event is never missed because another helper synced it, and each is returned once.
    Encrypted events are decrypted first (retried when the room key arrives later); the dict
    is nio's `event.source`, for a decrypted event the cleartext event (type, content,
    sender, event_id, origin_server_ts).
    """
    deadline = time.monotonic() + timeout
    inbox = _inbox(client)
    while True:
        for index, (event_room, event) in enumerate(inbox):
            if event_room != room_id:
                continue
            if isinstance(event, nio.MegolmEvent):
                try:
                    event = client.decrypt_event(event)
                except Exception:  # noqa: BLE001 - nio raises EncryptionError: the key is not here yet
                    continue
                inbox[index] = (event_room, event)
            if predicate(event.source):
                del inbox[index]
                return event.source
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            here = [e for r, e in inbox if r == room_id]
            undecrypted = sum(isinstance(e, nio.MegolmEvent) for e in here)
            summary = [(e.source.get("type"), str(e.source.get("content", {}).get("body"))[:60]) for e in here[-15:]]
            raise AssertionError(
                f"{client.user_id}: no matching event in {room_id} within {timeout} s; "
                f"unmatched there: {summary} ({undecrypted} undecryptable)"
            )
        await sync(client, timeout_ms=int(min(remaining, 5) * 1000))
