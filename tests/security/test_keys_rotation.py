"""``pidsync tokens rotate-keys`` while real workers place works: nothing is lost.

Everything is real but ORCID (the sandbox over HTTP): the committed PostgreSQL, the Redis
broker, a dramatiq worker with four threads processing the events and placing the works. The
operator's procedure (worker.orcid.keys): the new key goes first in PIDSYNC_TOKEN_KEYS of every
process (the old one kept after it), then rotate-keys runs, then the old key is removed.

Given researchers whose grants (and inbox events) were sealed with the old key, while the
workers process a stream of works naming them and grants still arriving:
- two rotations run at once, and a third is SIGKILLed midway (holding its row locks) and then
  run again;
- afterwards every grant and every sealed inbox event opens with the new key alone, and holds
  the very token ORCID issued; every event is done; every placement is placed, once on the
  record, with no failure for a key reason; no message died.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dramatiq
import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from tests.conftest import make_runtime
from tests.helpers import work
from tests.orcid.conftest import orcid_settings
from worker.db import enqueue_after_commit
from worker.events.types import RESEARCHER_AUTHORIZED, WORK_PUBLISHED
from worker.models import (
    DeadLetter,
    EventStatus,
    OrcidGrant,
    OrcidPlacement,
    PlacementState,
    ReceivedEvent,
    Researcher,
)
from worker.orcid.grants import seal_token_response, store_grant
from worker.orcid.keys import SEALED_FIELDS, rotate_stored_tokens
from worker.orcid.tokens import TokenCipher, TokenKeyError, new_key

OLD, NEW = new_key(), new_key()
RESEARCHERS = 12
LATE_RESEARCHERS = 4  # their grants arrive while the rotations run
WORKS = 30


@pytest.fixture
def cipher() -> TokenCipher:
    """Every process's cipher once the new key is deployed: the new key first, the old after."""
    return TokenCipher([NEW, OLD])


@pytest.fixture
def settings(sandbox: Any, tmp_path: Path) -> Any:
    return orcid_settings(sandbox, tmp_path, token_keys=[NEW, OLD])


@pytest.fixture
def live(settings, committed_database, broker, database_url, redis_url, cipher) -> Iterator[Any]:
    runtime = make_runtime(settings, committed_database, broker, cipher, database_url, redis_url)
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=4)
    worker.start()
    yield runtime
    worker.stop()


def _until(database: Any, check: Callable[[Any], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with database.session() as session:
            found = check(session)
            if found:
                return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


_numbers = iter(range(1, 1_000_000))


def _send(database: Any, event_type: str, data: dict[str, Any]) -> None:
    """An event in the inbox and its message queued after the commit, as the intake does."""
    number = next(_numbers)
    with database.session() as session:
        row = ReceivedEvent(
            source="https://cris.example.edu", event_id=f"rot-{number}", type=event_type,
            client_id="cris", correlation_id=f"rot-{number}", data=data,
        )  # fmt: skip
        session.add(row)
        session.flush()
        enqueue_after_commit(session, "events.process", row.id)


def _grant_event(sandbox: Any, client_id: str, orcid: str, sealer: TokenCipher) -> str:
    token = sandbox.issue_token(orcid, client_id)
    return_value: str = token["access_token"]
    _send_later.append((RESEARCHER_AUTHORIZED, seal_token_response(sealer, token, client_id)))
    return return_value


_send_later: list[tuple[str, dict[str, Any]]] = []


def _flush(database: Any) -> None:
    while _send_later:
        _send(database, *_send_later.pop(0))


def _rotate(database: Any, cipher: TokenCipher) -> dict[str, int]:
    """What ``pidsync tokens rotate-keys`` does in its one transaction."""
    with database.session() as session:
        return rotate_stored_tokens(session, cipher)


def _kill_a_rotation_midway(database_url: str, settings: Any, blocker_id: int) -> int:
    """Run the real command in a process, let it lock the grants up to ``blocker_id`` (held
    here), SIGKILL it there, then let go. Returns its exit status (-9)."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as holder:
        holder.execute("SELECT id FROM orcid_grants WHERE id = %s FOR UPDATE", (blocker_id,))
        env = {
            **os.environ,
            "PIDSYNC_ENV": "test",
            "PIDSYNC_DATABASE_URL": database_url,
            "PIDSYNC_REDIS_URL": os.environ.get("PIDSYNC_TEST_REDIS_URL", ""),
            "PIDSYNC_TOKEN_KEYS": f"{NEW},{OLD}",
            "PIDSYNC_DATA_DIR": str(settings.data_dir),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "tokens", "rotate-keys"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            with psycopg.connect(dsn, autocommit=True) as watcher:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    waiting = watcher.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query ILIKE '%%orcid_grants%%FOR UPDATE%%' AND pid <> pg_backend_pid()"
                    ).fetchone()
                    if (waiting and waiting[0]) or process.poll() is not None:
                        break
                    time.sleep(0.05)
                assert process.poll() is None, process.communicate()[1].decode()[-2000:]
            process.send_signal(signal.SIGKILL)
            return process.wait(30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(30)
            holder.rollback()


def test_rotation_under_load_loses_no_grant_and_no_event(
    live, committed_database, database_url, settings, sandbox, cipher
):
    database = committed_database
    client_id = sandbox.ctx.accounts.orcid_clients[0].client_id
    old = TokenCipher([OLD])
    # Given researchers whose grants were sealed with the old key, processed by the workers
    orcids = [sandbox.add_researcher(given_names="Ada", family_name=f"L{i}") for i in range(16)]
    issued = {o: _grant_event(sandbox, client_id, o, old) for o in orcids[:RESEARCHERS]}
    _flush(database)
    _until(
        database,
        lambda s: s.scalar(select(func.count()).select_from(OrcidGrant)) == RESEARCHERS,
        "the first grants",
    )

    # When works naming three researchers each stream in, more grants arrive (still sealed with
    # the old key: inbox rows waiting), two rotations run at once and a third is killed midway
    for i in range(WORKS):
        named = [orcids[(i + k) % len(orcids)] for k in range(3)]
        contributors = [{"given": "Ada", "family": "L", "orcid": o} for o in named]
        _send_later.append((WORK_PUBLISHED, work(f"w-{i}", contributors=contributors)))
    _flush(database)
    for orcid in orcids[RESEARCHERS:]:
        issued[orcid] = _grant_event(sandbox, client_id, orcid, old)
    _flush(database)
    rotations: list[Any] = []
    threads = [
        threading.Thread(target=lambda: rotations.append(_rotate(database, cipher)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    with database.session() as session:
        last = session.scalar(select(func.max(OrcidGrant.id)))
    assert _kill_a_rotation_midway(database_url, settings, last) == -signal.SIGKILL
    rotations.append(_rotate(database, cipher))  # the operator runs it again

    # Then every event is done, every placement placed once, and no message died
    expected = WORKS * 3
    _until(
        database,
        lambda s: s.scalar(
            select(func.count()).where(OrcidPlacement.state == PlacementState.PLACED)
        ) == expected and not s.scalar(
            select(func.count()).where(ReceivedEvent.status == EventStatus.RECEIVED)
        ),
        "every placement",
    )  # fmt: skip
    assert len(rotations) == 3 and all(r["grants"] >= RESEARCHERS for r in rotations), rotations
    with database.session() as session:
        statuses = session.execute(
            select(ReceivedEvent.status, func.count()).group_by(ReceivedEvent.status)
        ).all()
        assert dict(statuses) == {EventStatus.DONE: WORKS + len(orcids)}
        placements = session.execute(select(OrcidPlacement)).scalars().all()
        assert [p.last_error for p in placements if p.last_error] == []
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 0
    # And every grant opens with the new key alone, holding the token ORCID issued
    newest = TokenCipher([NEW])
    with database.session() as session:
        grants = session.execute(
            select(Researcher.orcid, OrcidGrant).join(OrcidGrant.researcher)
        ).all()
        assert sorted(o for o, _g in grants) == sorted(orcids)
        for orcid, grant in grants:
            assert newest.decrypt(grant.access_token_enc) == issued[orcid]
            with pytest.raises(TokenKeyError):
                old.decrypt(grant.access_token_enc)
            if grant.webhook_secret_enc:
                newest.decrypt(grant.webhook_secret_enc)
        sealed = session.execute(
            select(ReceivedEvent.data).where(ReceivedEvent.type == RESEARCHER_AUTHORIZED)
        ).scalars()
        for data in sealed:
            for name in SEALED_FIELDS:
                if data.get(name):
                    newest.decrypt(str(data[name]).encode())
    records = sandbox.state()["orcid"]["records"]
    placed = sum(len(records[o]["works"]) for o in orcids)
    assert placed == expected  # each work once per researcher: nothing placed twice


def _waiting_on_a_lock(database_url: str) -> None:
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as watcher:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND pid <> pg_backend_pid()"
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the rotation never waited for the event in flight")


def test_a_grant_stored_from_an_event_in_flight_is_rotated_too(
    committed_database, database_url, sandbox
):
    """The race the load test can only meet by chance, made certain: the event processor
    holds a researcher.authorized event (sealed with the old key) while it stores the grant,
    and a rotation starts in between."""
    database = committed_database
    client_id = sandbox.ctx.accounts.orcid_clients[0].client_id
    orcid = sandbox.add_researcher(given_names="Ada", family_name="Lovelace")
    token = sandbox.issue_token(orcid, client_id)
    with database.session() as session:
        row = ReceivedEvent(
            source="https://cris.example.edu", event_id="in-flight", type=RESEARCHER_AUTHORIZED,
            client_id="cris", correlation_id="c", data=seal_token_response(TokenCipher([OLD]), token, client_id),
        )  # fmt: skip
        session.add(row)
        session.flush()
        event_id = row.id
    rotated: list[dict[str, int]] = []
    rotation = threading.Thread(
        target=lambda: rotated.append(_rotate(database, TokenCipher([NEW, OLD])))
    )
    # Given the processor holds the event, as events.service does while it stores the grant
    with database.session() as processor:
        event = processor.get(ReceivedEvent, event_id, with_for_update=True)
        # When a rotation starts meanwhile, and the processor then stores the grant
        rotation.start()
        _waiting_on_a_lock(database_url)
        store_grant(processor, dict(event.data), owner="cris")
    rotation.join(30)
    # Then the grant the processor committed was rotated as well: the new key alone opens it
    assert rotated and rotated[0]["grants"] == 1, rotated
    with database.session() as session:
        grant = session.execute(select(OrcidGrant)).scalar_one()
        assert TokenCipher([NEW]).decrypt(grant.access_token_enc) == token["access_token"]


def test_the_webhook_secret_is_rotated_with_the_tokens(committed_database, sandbox):
    """The webhook secret is sealed by the same cipher (orcid.webhooks): a grant whose secret
    only the old key opens could not remove its webhook once the old key is gone."""
    database = committed_database
    client_id = sandbox.ctx.accounts.orcid_clients[0].client_id
    orcid = sandbox.add_researcher(given_names="Ada", family_name="Lovelace")
    old = TokenCipher([OLD])
    with database.session() as session:
        grant = store_grant(
            session, seal_token_response(old, sandbox.issue_token(orcid, client_id), client_id)
        )
        grant.webhook_secret_enc = old.encrypt("webhook-secret")
    _rotate(database, TokenCipher([NEW, OLD]))
    with database.session() as session:
        grant = session.execute(select(OrcidGrant)).scalar_one()
        assert TokenCipher([NEW]).decrypt(grant.webhook_secret_enc) == "webhook-secret"
