"""SQLAlchemy 2.0 models for the whole domain.

Postgres is the source of truth for unfinished work (DESIGN.md §7): every state a job can be
in is a column here, so the scheduler can find and re-enqueue anything that stalled.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 - SQLAlchemy's documented hook
        dict[str, Any]: JSONB,
        list[Any]: JSONB,
        datetime: DateTime(timezone=True),
    }


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as text with a CHECK-free native-less enum: adding a state is a code change only.
    return Enum(cls, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


# --- events ------------------------------------------------------------------------------


class EventStatus(enum.StrEnum):
    RECEIVED = "received"  # stored, message sent after commit (or a retry scheduled)
    DONE = "done"
    STALE = "stale"  # older version than the stored one: recorded, skipped
    FAILED = "failed"  # with a reason a person can act on


class ReceivedEvent(Base):
    """The inbox: one row per CloudEvent, unique on (source, event_id)."""

    __tablename__ = "received_events"
    __table_args__ = (
        UniqueConstraint("source", "event_id", name="uq_received_events_source_event_id"),
        Index("ix_received_events_status_received_at", "status", "received_at"),
        # The dashboard: a work's timeline, and the last day's counts.
        Index("ix_received_events_work_id", "work_id"),
        Index("ix_received_events_received_at", "received_at"),
        # A work's or item's first publication looks for withdrawals that came before it (and
        # could not apply): worker.events.repository.withdrawals_before.
        Index(
            "ix_received_events_withdrawal_of",
            "source",
            text("(data ->> 'id')"),
            postgresql_where=text(
                "type IN ('work.withdrawn', 'affiliation.withdrawn', 'funding.withdrawn', "
                "'review.withdrawn')"
            ),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # What the intake answers and the status API takes: random, so not guessable (the numeric
    # id stays internal).
    receipt: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    source: Mapped[str] = mapped_column(String(1000))
    # The CloudEvent id; a dry run's carries the "dryrun:" prefix (events.dryrun), so the real
    # event with the same id is never taken for a reuse.
    event_id: Mapped[str] = mapped_column(String(1010))
    type: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(String(1000))
    # The intake client that sent it: the event's owner.
    client_id: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the event as sent (canonical JSON): a reused id with another body is refused.
    # None for events stored before it was kept.
    body_hash: Mapped[str | None] = mapped_column(String(64))
    correlation_id: Mapped[str] = mapped_column(String(100))
    event_time: Mapped[datetime | None]
    # The CloudEvent's data. For researcher.authorized the tokens are already ciphertext.
    data: Mapped[dict[str, Any]]
    # What the sender asked for beyond the data (CloudEvent extensions), e.g. {"enrich": true}.
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[EventStatus] = mapped_column(_enum(EventStatus), default=EventStatus.RECEIVED)
    outcome: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # When a processing message was last sent: the sweep re-sends only after a grace period.
    enqueued_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # When a transient failure postponed processing: the next try (worker.retry).
    next_attempt_at: Mapped[datetime | None]
    handled_at: Mapped[datetime | None]
    work_id: Mapped[int | None] = mapped_column(ForeignKey("works.id", ondelete="SET NULL"))


class DryRunReport(Base):
    """What a dry-run event (CloudEvent extension ``dryrun: "true"``, issue 15) would have
    done: every outcome, computed and then rolled back. It lives apart from works,
    registrations and placements so nothing a dry run computed can block or alter a real run;
    only the status API reads it."""

    __tablename__ = "dry_run_reports"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("received_events.id", ondelete="CASCADE"), unique=True
    )
    report: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


# --- works and DOIs ------------------------------------------------------------------------


class Work(Timestamped, Base):
    __tablename__ = "works"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_works_source_external_id"),
        # The dashboard's search: by the id alone, by DOI, by tenant.
        Index("ix_works_external_id", "external_id"),
        Index("ix_works_doi", "doi"),
        Index("ix_works_client_id", "client_id"),
        # A grant's backfill finds the works naming the researcher (metadata @> contributors'
        # ORCID): without it, a scan of every work per arriving grant.
        Index(
            "ix_works_metadata_path_ops",
            "metadata",
            postgresql_using="gin",
            postgresql_ops={"metadata": "jsonb_path_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    source: Mapped[str] = mapped_column(String(1000))
    external_id: Mapped[str] = mapped_column(String(1000))
    type: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(Text)
    doi: Mapped[str | None] = mapped_column(String(500))
    # The canonical Work as JSON (worker.metadata.work.Work) and a hash of it.
    work_metadata: Mapped[dict[str, Any]] = mapped_column("metadata")
    metadata_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int | None] = mapped_column(Integer)
    withdrawn_at: Mapped[datetime | None]
    tombstone_url: Mapped[str | None] = mapped_column(Text)
    # The owner: the intake client whose event created this work. Only its events apply to it,
    # only it reads it, and its webhooks go there.
    client_id: Mapped[str | None] = mapped_column(String(200))
    # Issue 15: the version family (worker.works.family): the smallest identifier linked to any
    # member, so every member agrees whatever order they arrived in; None outside a family.
    family: Mapped[str | None] = mapped_column(String(1000), index=True)
    # The identifiers this work links as versions ("doi:10...", its own DOI among them): what
    # joins a later version to this family.
    family_links: Mapped[list[Any] | None]

    registration: Mapped[DoiRegistration | None] = relationship(back_populates="work")
    placements: Mapped[list[OrcidPlacement]] = relationship(back_populates="work")


class Registrar(enum.StrEnum):
    """The agency a DOI is registered with (a Work asks for one by this word)."""

    DATACITE = "datacite"
    CROSSREF = "crossref"


class TargetState(enum.StrEnum):
    """The state a registration should reach at its agency (Crossref knows only registered)."""

    FINDABLE = "findable"
    REGISTERED = "registered"


class DuplicateCheck(enum.StrEnum):
    """The duplicate guard's check of a minted DOI (worker.registrars.guard)."""

    PENDING = "pending"  # waiting for the registry search; nothing is sent meanwhile
    CLEAR = "clear"  # no likely duplicate found
    HELD = "held"  # a likely duplicate: on hold until an operator releases it
    RELEASED = "released"  # let go by an operator (pidsync doi release)
    SKIPPED = "skipped"  # the search kept failing: sent with a warning


class DoiState(enum.StrEnum):
    RESERVED = "reserved"  # chosen and stored; nothing confirmed yet
    ON_HOLD = "on_hold"  # possible duplicate: an operator decides
    SUBMITTED = "submitted"  # sent; the agency has not confirmed
    REGISTERED = "registered"  # confirmed by the agency (DataCite 'registered' or Crossref)
    FINDABLE = "findable"  # confirmed by DataCite as findable
    WITHDRAWN = "withdrawn"  # hidden (DataCite) or pointed at a tombstone (Crossref)
    FAILED = "failed"  # the agency refused it; last_error says why


class DoiRegistration(Timestamped, Base):
    """A Work's DOI at one registrar account: chosen and stored before any call, then followed
    until the agency confirms each change (``pending_hash`` set = a change still to confirm)."""

    __tablename__ = "doi_registrations"
    __table_args__ = (
        Index("ix_doi_registrations_next_attempt_at", "next_attempt_at"),
        Index("ix_doi_registrations_account_state", "registrar", "account", "state"),
        # The dashboard's problems and the metrics count DOIs not settled yet by state.
        Index("ix_doi_registrations_state", "state"),
        Index("ix_doi_registrations_pending_since", "pending_since"),  # stale changes
        # The sweeps (every 30 s) read only the few rows with a change to send, and the
        # read-back order of confirmed ones, without scanning every DOI (benchmark ``scale``).
        Index(
            "ix_doi_registrations_pending",
            "id",
            postgresql_where=text("pending_hash IS NOT NULL"),
        ),
        Index(
            "ix_doi_registrations_read_back",
            text("reconciled_at NULLS FIRST"),
            "id",
            postgresql_where=text("pending_hash IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), unique=True)
    registrar: Mapped[Registrar] = mapped_column(_enum(Registrar))
    account: Mapped[str] = mapped_column(String(200))
    doi: Mapped[str] = mapped_column(String(500), unique=True)
    # True when pidsync chose the DOI (the Work carried none).
    minted: Mapped[bool] = mapped_column(default=False)
    # The intake client whose events drive this work: webhooks go back to it.
    client_id: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[DoiState] = mapped_column(_enum(DoiState), default=DoiState.RESERVED)
    target_state: Mapped[TargetState] = mapped_column(
        _enum(TargetState), default=TargetState.FINDABLE
    )
    # Hash of the last payload the agency confirmed: an unchanged update sends nothing.
    confirmed_hash: Mapped[str | None] = mapped_column(String(80))
    # Hash of the change waiting to be confirmed; None when the agency holds what we hold.
    pending_hash: Mapped[str | None] = mapped_column(String(80))
    pending_since: Mapped[datetime | None]
    # Crossref <timestamp>: only ever grows per DOI.
    last_timestamp: Mapped[int | None] = mapped_column(BigInteger)
    warning: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The agency's own messages for the last refusal (DataCite's field errors, Crossref's msg).
    error_details: Mapped[list[Any] | None]
    # Sends made (every call that carried this DOI's payload), and transient failures in a row.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    registered_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    # When the next message for it is due; the sweep re-sends when this is long past.
    next_attempt_at: Mapped[datetime | None]
    # Duplicate guard: None when it was not asked for.
    duplicate_check: Mapped[DuplicateCheck | None] = mapped_column(_enum(DuplicateCheck))
    hold: Mapped[dict[str, Any] | None]
    # What the registrar's format could not hold of the Work last sent: {"hash", "notes"}
    # (worker.works.render_notes); shown as the status API's ``notes``.
    render_notes: Mapped[dict[str, Any] | None]
    # The Crossref deposit that carries this DOI's latest change, while it is unfinished.
    open_deposit_id: Mapped[int | None] = mapped_column(
        ForeignKey("crossref_deposits.id", ondelete="SET NULL")
    )
    reconciled_at: Mapped[datetime | None]

    work: Mapped[Work] = relationship(back_populates="registration")
    deposit_records: Mapped[list[CrossrefDepositRecord]] = relationship(
        order_by="CrossrefDepositRecord.id", viewonly=True
    )


class DepositStatus(enum.StrEnum):
    PREPARED = "prepared"  # the file is built and stored; not uploaded yet
    SUBMITTED = "submitted"  # uploaded; Crossref has not reported on it yet
    QUEUED = "queued"
    IN_PROCESS = "in_process"
    COMPLETED = "completed"
    FAILED = "failed"  # the upload itself was refused


class CrossrefDeposit(Timestamped, Base):
    """One submission file sent to Crossref, followed until Crossref has processed it."""

    __tablename__ = "crossref_deposits"
    __table_args__ = (
        Index("ix_crossref_deposits_status_next_poll_at", "status", "next_poll_at"),
        Index("ix_crossref_deposits_doi_batch_id", "doi_batch_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    account: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(50))
    file_name: Mapped[str] = mapped_column(String(300), unique=True)
    doi_batch_id: Mapped[str] = mapped_column(String(300))
    # The file exactly as uploaded: a retried upload sends the same bytes and timestamps.
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[DepositStatus] = mapped_column(
        _enum(DepositStatus), default=DepositStatus.PREPARED
    )
    submitted_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    next_poll_at: Mapped[datetime | None]
    poll_count: Mapped[int] = mapped_column(Integer, default=0)
    upload_attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    stale: Mapped[bool] = mapped_column(default=False)
    stale_at: Mapped[datetime | None]
    # When Crossref's notification callback last said this submission's log is ready.
    notified_at: Mapped[datetime | None]
    submission_id: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)

    records: Mapped[list[CrossrefDepositRecord]] = relationship(back_populates="deposit")


class RecordIntent(enum.StrEnum):
    """What a deposited record does for its DOI."""

    REGISTER = "register"  # the metadata and the landing page
    WITHDRAW = "withdraw"  # the DOI pointed at the tombstone URL


class RecordOutcome(enum.StrEnum):
    """Crossref's verdict on one record of a submission, in Crossref's own words (the
    ``status`` of a ``<record_diagnostic>``)."""

    SUCCESS = "Success"
    WARNING = "Warning"  # accepted; the message is kept as the DOI's warning
    FAILURE = "Failure"


class CrossrefDepositRecord(Base):
    __tablename__ = "crossref_deposit_records"
    __table_args__ = (
        UniqueConstraint("deposit_id", "doi", name="uq_crossref_records_deposit_doi"),
        Index("ix_crossref_deposit_records_registration_id", "registration_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    deposit_id: Mapped[int] = mapped_column(ForeignKey("crossref_deposits.id", ondelete="CASCADE"))
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("doi_registrations.id", ondelete="CASCADE")
    )
    doi: Mapped[str] = mapped_column(String(500))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    payload_hash: Mapped[str] = mapped_column(String(80))
    intent: Mapped[RecordIntent] = mapped_column(_enum(RecordIntent), default=RecordIntent.REGISTER)
    # None until Crossref has processed the submission.
    status: Mapped[RecordOutcome | None] = mapped_column(_enum(RecordOutcome))
    message: Mapped[str | None] = mapped_column(Text)

    deposit: Mapped[CrossrefDeposit] = relationship(back_populates="records")


# --- researchers and ORCID ---------------------------------------------------------------


class Researcher(Timestamped, Base):
    __tablename__ = "researchers"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    orcid: Mapped[str] = mapped_column(String(19), unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    # What the last reconciliation saw on the record: put-codes of works from other sources
    # (so new ones can be reported), and when it ran.
    record_snapshot: Mapped[dict[str, Any] | None]
    reconciled_at: Mapped[datetime | None]

    grants: Mapped[list[OrcidGrant]] = relationship(back_populates="researcher")


class GrantStatus(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"  # by the researcher at ORCID, or by us


class OrcidGrant(Timestamped, Base):
    """A researcher's authorisation for one ORCID member client. Tokens are ciphertext only."""

    __tablename__ = "orcid_grants"
    __table_args__ = (
        UniqueConstraint("researcher_id", "client_id", name="uq_orcid_grants_researcher_client"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    researcher_id: Mapped[int] = mapped_column(ForeignKey("researchers.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(Text)
    access_token_enc: Mapped[bytes] = mapped_column(LargeBinary)
    refresh_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime | None]
    status: Mapped[GrantStatus] = mapped_column(_enum(GrantStatus), default=GrantStatus.ACTIVE)
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    last_checked_at: Mapped[datetime | None]
    # The ORCID webhook's callback is {base}/webhooks/orcid/{webhook_id}/{secret}: the id finds
    # the grant, the secret (kept as its SHA-256 only) authenticates ORCID's call, and its
    # ciphertext (token keys) rebuilds the URL ORCID needs to remove the webhook.
    webhook_id: Mapped[str | None] = mapped_column(String(32), index=True)
    webhook_secret_hash: Mapped[str | None] = mapped_column(String(64))
    webhook_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    webhook_registered_at: Mapped[datetime | None]
    # When a permission notification last asked the researcher to authorise again.
    reauth_requested_at: Mapped[datetime | None]
    # The intake client whose researcher.authorized stored it; None: the researcher's own
    # consent through /orcid/connect. Neither is ever replaced by another client's event.
    owner: Mapped[str | None] = mapped_column(String(200))

    researcher: Mapped[Researcher] = relationship(back_populates="grants")


class GrantEffect(enum.StrEnum):
    """Something done at ORCID about a grant, named as the actor that does it."""

    CHECK_GRANT = "orcid.check_grant"
    REVOKE_AT_ORCID = "orcid.revoke_token"
    REQUEST_PERMISSION = "orcid.request_permission"
    REGISTER_WEBHOOK = "orcid.register_webhook"
    UNREGISTER_WEBHOOK = "orcid.unregister_webhook"
    RECONCILE = "orcid.reconcile"  # of the grant's record, read with its token


class OrcidGrantAttempt(Timestamped, Base):
    """The tries of one effect about a grant that failed transiently. Each effect has its own
    row (a revoked grant has its token revocation, webhook removal and permission notification
    under way at once); the row goes once the effect succeeds or is settled, and stays with
    ``failed_at`` when its tries were spent, for a person to act on."""

    __tablename__ = "orcid_grant_attempts"
    __table_args__ = (
        UniqueConstraint("grant_id", "effect", name="uq_orcid_grant_attempts_grant_effect"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("orcid_grants.id", ondelete="CASCADE"))
    effect: Mapped[GrantEffect] = mapped_column(_enum(GrantEffect))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # When the next try is due; the sweep re-sends the effect's message once this is long past.
    next_attempt_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]

    grant: Mapped[OrcidGrant] = relationship()


class PlacementState(enum.StrEnum):
    PENDING = "pending"
    PLACED = "placed"
    AWAITING_CONSENT = "awaiting_consent"  # no grant, or the grant was revoked
    # The work's DOI is pidsync's to register and the agency has not confirmed it yet: placed
    # once it does (or without the DOI once it fails for good, per PIDSYNC_ORCID_WITHOUT_DOI).
    AWAITING_DOI = "awaiting_doi"
    # Never placed: its DOI failed for good and PIDSYNC_ORCID_WITHOUT_DOI=skip.
    SKIPPED = "skipped"
    REMOVED_BY_RESEARCHER = "removed_by_researcher"  # respected: not re-added unless asked
    NOT_OURS = "not_ours"  # 403/9010
    DELETED = "deleted"  # removed by us after a withdrawal
    # One work per version family (orcid_versions latest/concept): another version's placement
    # carries the family's ORCID work; this one holds nothing on the record.
    FOLDED = "folded"
    FAILED = "failed"


class Visibility(enum.StrEnum):
    """Who may see a work on an ORCID record, in ORCID's words (set by the researcher)."""

    PUBLIC = "public"
    LIMITED = "limited"  # trusted parties only
    REGISTERED_ONLY = "registered-only"
    PRIVATE = "private"  # hidden from everyone but the researcher

    @classmethod
    def read(cls, word: object) -> Visibility | None:
        """ORCID's word as the client read it; None when absent or not one ORCID defines
        (the ORCID client imports no models: the stateless commands use it)."""
        return next((v for v in cls if v.value == word), None)


class OrcidPlacement(Timestamped, Base):
    __tablename__ = "orcid_placements"
    __table_args__ = (
        # One placement per (work, ORCID iD, client), and one awaiting consent (client None):
        # NULLs count as equal here (PostgreSQL 15+).
        UniqueConstraint(
            "work_id",
            "orcid",
            "client_id",
            name="uq_orcid_placements_work_orcid",
            postgresql_nulls_not_distinct=True,
        ),
        # The dashboard's problems, the metrics and the sweeps pick placements by state (in id
        # order): without it each sweep run scanned every placement (benchmark ``scale``).
        Index("ix_orcid_placements_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"))
    orcid: Mapped[str] = mapped_column(String(19), index=True)
    # The ORCID member client that places it; None while it awaits the researcher's consent.
    client_id: Mapped[str | None] = mapped_column(String(100))
    # The intake client owning the work (and so this placement).
    owner: Mapped[str | None] = mapped_column(String(200))
    put_code: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[PlacementState] = mapped_column(
        _enum(PlacementState), default=PlacementState.PENDING
    )
    confirmed_hash: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    placed_at: Mapped[datetime | None]
    # A write was sent and its answer lost: read the record before writing again.
    in_doubt: Mapped[bool] = mapped_column(default=False)
    # As last seen on the record (the researcher may hide a work).
    visibility: Mapped[Visibility | None] = mapped_column(_enum(Visibility))
    # When a message for this placement was last sent (the sweep re-sends stalled ones).
    enqueued_at: Mapped[datetime | None]
    # After a transient failure: when the next try is due (``attempts`` tries so far, the
    # reason in ``last_error``). The sweep re-sends a placement only once this is long past.
    next_attempt_at: Mapped[datetime | None]
    # What ORCID's work could not hold of the Work last rendered: {"hash", "notes"}.
    render_notes: Mapped[dict[str, Any] | None]

    work: Mapped[Work] = relationship(back_populates="placements")


# --- affiliations, fundings and peer reviews (ORCID sections beyond works) ------------------


class OrcidItemKind(enum.StrEnum):
    """What an asserted item is (its events: ``<kind>.published|updated|withdrawn``)."""

    AFFILIATION = "affiliation"
    FUNDING = "funding"
    REVIEW = "review"


class OrcidAssertion(Timestamped, Base):
    """An affiliation, funding or peer review as the emitting system asserts it. Identity:
    (kind, CloudEvent source, data.id); ``version`` as for works; owned by its intake client."""

    __tablename__ = "orcid_assertions"
    __table_args__ = (
        UniqueConstraint(
            "kind", "source", "external_id", name="uq_orcid_assertions_kind_source_external_id"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[OrcidItemKind] = mapped_column(_enum(OrcidItemKind))
    source: Mapped[str] = mapped_column(String(1000))
    external_id: Mapped[str] = mapped_column(String(1000))
    # The item as the event carried it (worker.metadata.orcid_items), and a hash of it.
    data: Mapped[dict[str, Any]]
    data_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int | None] = mapped_column(Integer)
    withdrawn_at: Mapped[datetime | None]
    # The owner: the intake client whose event created it.
    client_id: Mapped[str] = mapped_column(String(200))

    items: Mapped[list[OrcidItem]] = relationship(back_populates="assertion")


class OrcidItem(Timestamped, Base):
    """One assertion on one researcher's record through one ORCID client: the works'
    placement for the other sections (put-code, state, the one retry model)."""

    __tablename__ = "orcid_items"
    __table_args__ = (
        UniqueConstraint(
            "assertion_id",
            "orcid",
            "client_id",
            name="uq_orcid_items_assertion_orcid_client",
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_orcid_items_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    assertion_id: Mapped[int] = mapped_column(ForeignKey("orcid_assertions.id", ondelete="CASCADE"))
    orcid: Mapped[str] = mapped_column(String(19), index=True)
    # The ORCID member client that writes it; None while it awaits the researcher's consent.
    client_id: Mapped[str | None] = mapped_column(String(100))
    owner: Mapped[str] = mapped_column(String(200))
    # The ORCID section it is written to (employment, ..., funding, peer-review).
    section: Mapped[str] = mapped_column(String(32))
    put_code: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[PlacementState] = mapped_column(
        _enum(PlacementState), default=PlacementState.PENDING
    )
    confirmed_hash: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    placed_at: Mapped[datetime | None]
    # A POST was sent and its answer lost: read the section before writing again.
    in_doubt: Mapped[bool] = mapped_column(default=False)
    enqueued_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]

    assertion: Mapped[OrcidAssertion] = relationship(back_populates="items")


class OrcidGroupId(Timestamped, Base):
    """A group id pidsync found or registered in ORCID's group-id registry (a journal's
    ``issn:...``): registered once, then every review of that journal names it."""

    __tablename__ = "orcid_group_ids"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(1000), unique=True)
    # The registry's put-code, and the ORCID client that found or registered it.
    put_code: Mapped[int] = mapped_column(BigInteger)
    client_id: Mapped[str] = mapped_column(String(100))


class ConsentOutcome(enum.StrEnum):
    """How a researcher's consent request ended."""

    GRANTED = "granted"
    DENIED = "denied"  # the researcher declined at ORCID
    FAILED = "failed"  # expired, refused by ORCID, ORCID unreachable, ...


class OAuthState(Base):
    """A single-use, expiring OAuth `state`, bound to the consent request that made it."""

    __tablename__ = "oauth_states"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    state: Mapped[str] = mapped_column(String(100), unique=True)
    person: Mapped[str | None] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(100))
    return_to: Mapped[str | None] = mapped_column(Text)
    redirect_uri: Mapped[str | None] = mapped_column(Text)  # must be repeated at the exchange
    # An invitation (sent in an ORCID notification) is not bound to a browser.
    invite: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # How it ended (None while unused), why when it was not granted, and whose record.
    outcome: Mapped[ConsentOutcome | None] = mapped_column(_enum(ConsentOutcome))
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    orcid: Mapped[str | None] = mapped_column(String(19))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


# --- audit, notifications, dead letters --------------------------------------------------


class ApiCall(Base):
    """Every outbound call: what an operator needs to see why something failed."""

    __tablename__ = "api_calls"
    __table_args__ = (
        Index("ix_api_calls_service_created_at", "service", "created_at"),
        Index("ix_api_calls_work_id", "work_id"),  # a work's timeline
        Index("ix_api_calls_created_at", "created_at"),  # the overview's last hour and day
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    service: Mapped[str] = mapped_column(String(50))
    method: Mapped[str] = mapped_column(String(10))
    url: Mapped[str] = mapped_column(Text)  # redacted
    status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    excerpt: Mapped[str | None] = mapped_column(Text)  # redacted, truncated
    error: Mapped[str | None] = mapped_column(Text)
    correlation_id: Mapped[str | None] = mapped_column(String(100))
    # The work the call was about, by id only: no foreign key. The record is written in its own
    # transaction while the unit of work that made the call may hold that work's row (just
    # created: not visible yet; locked FOR UPDATE: a key-share check would wait on it, and the
    # unit of work waits on the record: a deadlock PostgreSQL cannot see). Found by the chaos run.
    work_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # retries exhausted
    NO_ENDPOINT = "no_endpoint"  # the client has no webhook URL configured; visible in status


class OutboundNotification(Base):
    """A signed webhook to the emitting system (doi.registered, orcid.placed, ...)."""

    __tablename__ = "outbound_notifications"
    __table_args__ = (Index("ix_outbound_notifications_status", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(100))
    work_id: Mapped[int | None] = mapped_column(ForeignKey("works.id", ondelete="SET NULL"))
    payload: Mapped[dict[str, Any]]
    status: Mapped[NotificationStatus] = mapped_column(
        _enum(NotificationStatus), default=NotificationStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class DeadLetter(Base):
    """A message parked after its retries ran out, with the reason, for an operator."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    queue: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(100), unique=True)
    args: Mapped[list[Any]]
    reason: Mapped[str] = mapped_column(Text)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    correlation_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    requeued_at: Mapped[datetime | None]


class OpsActionKind(enum.StrEnum):
    """What an operator did from the dashboard or the CLI (worker.ops.problems)."""

    RETRY = "retry"  # one failed or waiting row, tried again now
    RETRY_REASON = "retry_reason"  # every failed or waiting row whose error has the reason
    RELEASE_HOLD = "release_hold"  # a DOI held as a likely duplicate, sent after all
    DISCARD = "discard"  # a failure looked at and set aside, with a note
    REPLAY = "replay"  # a dead letter sent again
    PURGE = "purge"  # dead letters deleted


class OpsAction(Base):
    """The audit of operators' actions: who did what to which row, when, and why (a note)."""

    __tablename__ = "ops_actions"
    __table_args__ = (
        Index("ix_ops_actions_target", "target_kind", "target_id"),
        Index("ix_ops_actions_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    actor: Mapped[str] = mapped_column(String(200))  # the logged-in name, or "cli:<user>"
    action: Mapped[OpsActionKind] = mapped_column(_enum(OpsActionKind))
    # event | doi | placement | dead_letter; None for an action on many rows (a reason, all).
    target_kind: Mapped[str | None] = mapped_column(String(30))
    target_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)  # the failure reason selected, if any
    note: Mapped[str | None] = mapped_column(Text)
    # What came of it: rows retried and skipped, letters replayed, ...
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
