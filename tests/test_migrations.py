"""Migrations on a database that already holds rows: the states-as-enums revision converts what
the previous schema stored (words in text columns, '' for "no ORCID client", a consent's reason
inside its outcome) into what the models read, and back on downgrade."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests.conftest import ADMIN_URL, _worker_index
from worker.migrate import alembic_config, upgrade
from worker.models import (
    ConsentOutcome,
    CrossrefDepositRecord,
    DoiRegistration,
    DuplicateCheck,
    OAuthState,
    OrcidPlacement,
    PlacementState,
    RecordIntent,
    RecordOutcome,
    Registrar,
    TargetState,
    Visibility,
)

BEFORE = "bee17795b75e"  # the revision before states became enums
ENUMS = "c5d81e3a9f60"


@pytest.fixture
def old_database() -> Iterator[str]:
    """An empty database of its own, migrated to the revision before the enums."""
    run = os.environ.get("PIDSYNC_TEST_RUN", "")
    name = f"pidsync_test_{run + '_' if run else ''}migrations_{_worker_index()}"
    admin = make_url(ADMIN_URL)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    upgrade(url, BEFORE)
    yield url
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def engine(old_database: str) -> Iterator[Engine]:
    engine = create_engine(old_database)
    yield engine
    engine.dispose()


def _insert(conn: Connection, sql: str, **values: object) -> int:
    return int(conn.execute(text(sql + " RETURNING id"), values).scalar_one())


def _old_rows(conn: Connection) -> dict[str, int]:
    """One of each row the enums touch, as the schema before them stored it."""
    ids: dict[str, int] = {}
    for key in ("w-1", "w-2"):
        ids[key] = _insert(
            conn,
            "INSERT INTO works (source, external_id, type, title, metadata, metadata_hash) "
            "VALUES ('https://cris.example.edu', :key, 'dataset', 't', '{}', 'h')",
            key=key,
        )
    ids["datacite"] = _insert(
        conn,
        "INSERT INTO doi_registrations (work_id, registrar, account, doi, minted, state, "
        "target_state, duplicate_check, attempts, retry_count) VALUES (:work, 'datacite', "
        "'default', '10.5072/one', true, 'on_hold', 'registered', 'held', 0, 0)",
        work=ids["w-1"],
    )
    ids["crossref"] = _insert(
        conn,
        "INSERT INTO doi_registrations (work_id, registrar, account, doi, minted, state, "
        "target_state, attempts, retry_count) VALUES (:work, 'crossref', 'default', "
        "'10.32013/two', false, 'registered', 'registered', 1, 0)",
        work=ids["w-2"],
    )
    deposit = _insert(
        conn,
        "INSERT INTO crossref_deposits (account, prefix, file_name, doi_batch_id, content, "
        "status, poll_count, upload_attempts, retry_count, stale) VALUES ('default', "
        "'10.32013', 'f.xml', 'b', '<x/>', 'completed', 1, 1, 0, false)",
    )
    for key, intent, status in (
        ("registered", "register", "Success"),
        ("warned", "register", "Warning"),
        ("withdrawn", "withdraw", "Failure"),
        ("odd", "register", "Pending"),  # not a word of Crossref's: handled as a failure
        ("unprocessed", "register", None),
    ):
        ids[key] = _insert(
            conn,
            "INSERT INTO crossref_deposit_records (deposit_id, registration_id, doi, timestamp, "
            "payload_hash, intent, status) VALUES (:deposit, :reg, :doi, 1, 'h', :intent, "
            ":status)",
            deposit=deposit,
            reg=ids["crossref"],
            doi=f"10.32013/{key}",
            intent=intent,
            status=status,
        )
    for key, client, state, visibility in (
        ("awaiting", "", "awaiting_consent", None),
        ("placed", "APP-1", "placed", "registered-only"),
        ("hidden", "APP-2", "placed", "private"),
        ("strange", "APP-3", "placed", "friends"),  # not ORCID's: forgotten until read again
    ):
        ids[key] = _insert(
            conn,
            "INSERT INTO orcid_placements (work_id, orcid, client_id, state, attempts, in_doubt, "
            "visibility) VALUES (:work, '0000-0002-1825-0097', :client, :state, 0, false, "
            ":visibility)",
            work=ids["w-1"],
            client=client,
            state=state,
            visibility=visibility,
        )
    for key, outcome in (
        ("granted", "granted"),
        ("denied", "denied: You did not authorise access to your ORCID record."),
        ("failed", "failed: ORCID reported an error: invalid_scope: no: such scope"),
        ("unused", None),
    ):
        ids[key] = _insert(
            conn,
            "INSERT INTO oauth_states (state, client_id, invite, expires_at, outcome) VALUES "
            "(:state, 'APP-1', false, now(), :outcome)",
            state=key,
            outcome=outcome,
        )
    return ids


def test_upgrade_converts_existing_rows_and_downgrade_restores_them(engine, old_database):
    # Given a database at the previous revision holding rows as that schema stored them
    with engine.begin() as conn:
        ids = _old_rows(conn)

    # When it is upgraded to the enums
    upgrade(old_database, "head")  # the models describe the newest schema

    # Then the models read every row back as typed states
    with Session(engine) as session:
        datacite = session.get_one(DoiRegistration, ids["datacite"])
        assert datacite.registrar is Registrar.DATACITE
        assert datacite.target_state is TargetState.REGISTERED
        assert datacite.duplicate_check is DuplicateCheck.HELD
        crossref = session.get_one(DoiRegistration, ids["crossref"])
        assert crossref.registrar is Registrar.CROSSREF
        assert crossref.duplicate_check is None
        records = {key: session.get_one(CrossrefDepositRecord, ids[key]) for key in
                   ("registered", "warned", "withdrawn", "odd", "unprocessed")}  # fmt: skip
        assert {key: (r.intent, r.status) for key, r in records.items()} == {
            "registered": (RecordIntent.REGISTER, RecordOutcome.SUCCESS),
            "warned": (RecordIntent.REGISTER, RecordOutcome.WARNING),
            "withdrawn": (RecordIntent.WITHDRAW, RecordOutcome.FAILURE),
            "odd": (RecordIntent.REGISTER, RecordOutcome.FAILURE),
            "unprocessed": (RecordIntent.REGISTER, None),
        }
        awaiting = session.get_one(OrcidPlacement, ids["awaiting"])
        assert awaiting.client_id is None
        assert awaiting.state is PlacementState.AWAITING_CONSENT
        assert session.get_one(OrcidPlacement, ids["placed"]).client_id == "APP-1"
        visibilities = {
            key: session.get_one(OrcidPlacement, ids[key]).visibility
            for key in ("awaiting", "placed", "hidden", "strange")
        }
        assert visibilities == {
            "awaiting": None,
            "placed": Visibility.REGISTERED_ONLY,
            "hidden": Visibility.PRIVATE,
            "strange": None,
        }
        consents = {
            key: (row.outcome, row.outcome_reason)
            for key in ("granted", "denied", "failed", "unused")
            for row in [session.get_one(OAuthState, ids[key])]
        }
        assert consents == {
            "granted": (ConsentOutcome.GRANTED, None),
            "denied": (
                ConsentOutcome.DENIED,
                "You did not authorise access to your ORCID record.",
            ),
            "failed": (
                ConsentOutcome.FAILED,
                "ORCID reported an error: invalid_scope: no: such scope",
            ),
            "unused": (None, None),
        }
        # And a second placement of the work awaiting consent on that record is refused still
        session.add(
            OrcidPlacement(
                work_id=ids["w-1"],
                orcid="0000-0002-1825-0097",
                client_id=None,
                state=PlacementState.AWAITING_CONSENT,
            )
        )
        with pytest.raises(IntegrityError, match="uq_orcid_placements_work_orcid"):
            session.flush()

    # When it is downgraded again
    command.downgrade(alembic_config(old_database), BEFORE)

    # Then the previous schema's columns and words are back
    with engine.connect() as conn:
        length = conn.execute(
            text(
                "SELECT character_maximum_length FROM information_schema.columns "
                "WHERE table_name = 'doi_registrations' AND column_name = 'registrar'"
            )
        ).scalar_one()
        assert length == 20
        words = conn.execute(text("SELECT registrar FROM doi_registrations ORDER BY id")).all()
        assert [w for (w,) in words] == ["datacite", "crossref"]
        placement = conn.execute(
            text("SELECT client_id FROM orcid_placements WHERE id = :id"), {"id": ids["awaiting"]}
        ).scalar_one()
        assert placement == ""
        outcomes = dict(conn.execute(text("SELECT state, outcome FROM oauth_states")).all())
        assert outcomes == {
            "granted": "granted",
            "denied": "denied: You did not authorise access to your ORCID record.",
            "failed": "failed: ORCID reported an error: invalid_scope: no: such scope",
            "unused": None,
        }


def test_upgrade_refuses_a_registrar_no_state_names(engine, old_database):
    # Given a registration whose registrar pidsync never wrote
    with engine.begin() as conn:
        work = _insert(
            conn,
            "INSERT INTO works (source, external_id, type, title, metadata, metadata_hash) "
            "VALUES ('s', 'w', 'dataset', 't', '{}', 'h')",
        )
        conn.execute(
            text(
                "INSERT INTO doi_registrations (work_id, registrar, account, doi, minted, state, "
                "target_state, attempts, retry_count) VALUES (:work, 'medra', 'default', "
                "'10.5072/x', false, 'reserved', 'findable', 0, 0)"
            ),
            {"work": work},
        )
    # Then the upgrade stops naming it, rather than guessing, and changes nothing
    with pytest.raises(RuntimeError, match=r"doi_registrations\.registrar .*\['medra'\]"):
        upgrade(old_database, ENUMS)
    with engine.connect() as conn:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert revision == BEFORE
