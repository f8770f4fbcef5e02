"""The DOI registrars' own options (``PIDSYNC_DOI_*``, ``PIDSYNC_DATACITE_LIMIT_*``,
``PIDSYNC_CROSSREF_*``), read once per process like :mod:`worker.config`.

Accounts, credentials and base URLs stay in :class:`worker.config.Settings`; this holds how the
registrars behave: the DOI strategy, the Crossref batching window and polling schedule, the
stale deadline, retry and reconciliation pacing, the duplicate guard switch.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from worker.config import ConfigError
from worker.ratelimit import Limit


class RegistrarOptions(BaseSettings):
    """Field ``x`` is the variable ``PIDSYNC_X``."""

    model_config = SettingsConfigDict(
        env_prefix="PIDSYNC_",
        env_file=os.environ.get("PIDSYNC_ENV_FILE", ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    # DOI choice. Empty template: 8 random Crockford base32 characters and a check character.
    # A template may use {random}, {id} (the work's id, made DOI-safe) and {year}.
    doi_suffix_template: str | None = None

    # Retries of transient failures (network, 5xx, 429): backoff in seconds, the last repeats.
    doi_retry_backoff: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0]
    )
    doi_max_retries: int = Field(12, ge=1)
    # The sweep re-sends a change whose message is this late (seconds): a lost message.
    doi_resend_grace_seconds: float = Field(120.0, ge=0)

    # DataCite's limit: 3,000 requests per 5 minutes per IP, shared by every process. pidsync
    # uses ``share`` of it, with a small burst so that a moment without a sender ready does
    # not lose its slot for good; any window still holds at most count x share requests.
    datacite_limit_count: int = Field(3000, ge=1)
    datacite_limit_window_seconds: float = Field(300.0, gt=0)
    datacite_limit_share: float = Field(0.99, gt=0, le=1)
    datacite_limit_burst: int = Field(30, ge=1)

    # Crossref: deposits arriving within the window for one account/prefix share one file.
    crossref_batch_window_seconds: float = Field(5.0, ge=0)
    crossref_batch_max_records: int = Field(100, ge=1)
    # Polling submissionDownload: seconds after the upload, then after each poll (last repeats).
    crossref_poll_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0]
    )
    crossref_stale_after_seconds: float = Field(24 * 3600.0, gt=0)
    # Crossref queues at most 10,000 pending submissions per user; stay well under.
    crossref_max_pending_submissions: int = Field(2000, ge=1)
    # Calls to the deposit servlet (uploads and polls) per second per account.
    crossref_requests_per_second: float = Field(5.0, gt=0)

    # Reconciliation: how often each confirmed DOI is read back, how many per sweep, and how
    # old a confirmation must be first (Crossref's REST API indexes deposits with a delay).
    doi_reconcile_interval_seconds: float = Field(7 * 24 * 3600.0, gt=0)
    doi_reconcile_batch: int = Field(200, ge=1)
    doi_reconcile_min_age_seconds: float = Field(3600.0, ge=0)
    doi_reconcile_sweep_seconds: float = Field(600.0, gt=0)

    # The duplicate guard (worker.pids.duplicates) before minting: off by default.
    doi_duplicate_check: bool = False
    doi_duplicate_threshold: float = Field(0.85, gt=0, le=1)  # the toolkit's calibrated default

    @field_validator("doi_retry_backoff", "crossref_poll_schedule", mode="before")
    @classmethod
    def _seconds_list(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [float(part) for part in v.split(",") if part.strip()]
        return v

    @field_validator("doi_retry_backoff", "crossref_poll_schedule")
    @classmethod
    def _not_empty(cls, v: list[float]) -> list[float]:
        if not v or any(seconds < 0 for seconds in v):
            raise ValueError("needs at least one non-negative number of seconds")
        return v

    @property
    def datacite_limit(self) -> Limit:
        """A GCRA admits at most ``burst + rate x T`` requests in any interval ``T``: with
        ``rate = (count x share - burst) / window`` no window ever exceeds count x share."""
        allowed = self.datacite_limit_count * self.datacite_limit_share
        burst = max(1, min(self.datacite_limit_burst, int(allowed) // 10))
        rate = max(allowed - burst, allowed / 2) / self.datacite_limit_window_seconds
        return Limit("datacite", rate=rate, burst=burst)

    @property
    def crossref_limit(self) -> Limit:
        burst = max(1, round(self.crossref_requests_per_second))
        return Limit("crossref", rate=self.crossref_requests_per_second, burst=burst)

    def retry_delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds before try ``failures + 1``: the agency's Retry-After when it gave one."""
        backoff = self.doi_retry_backoff[min(max(failures, 1), len(self.doi_retry_backoff)) - 1]
        return max(retry_after, 0.0) if retry_after is not None else backoff

    def poll_delay(self, polls: int) -> float:
        """Seconds before poll number ``polls + 1`` (0 = the first poll after the upload)."""
        return self.crossref_poll_schedule[min(polls, len(self.crossref_poll_schedule) - 1)]


def load_options(**overrides: Any) -> RegistrarOptions:
    """Read and validate the options, or raise ConfigError naming each bad variable."""
    try:
        return RegistrarOptions(**overrides)
    except ValidationError as exc:
        problems = [
            f"PIDSYNC_{'.'.join(str(p) for p in err['loc']).upper()}: "
            + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        ]
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


_override: RegistrarOptions | None = None


@lru_cache(maxsize=1)
def _from_environment() -> RegistrarOptions:
    return load_options()


def current_options() -> RegistrarOptions:
    """The process's options: from the environment, read once (or set by :func:`set_options`)."""
    return _override if _override is not None else _from_environment()


def set_options(options: RegistrarOptions | None) -> None:
    """Use ``options`` in this process (tests, the demo, benchmarks); None = the environment."""
    global _override  # noqa: PLW0603 - one set of options per process, like the runtime
    _override = options
