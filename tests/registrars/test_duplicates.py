"""The duplicate guard's wiring: hold a DOI that may already exist, report why, release it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.registrars.flow import calls, datacite_dois, datacite_work, event, registration, sync
from tests.registrars.flow import webhooks as sent
from worker.errors import TransientError
from worker.http import RequestError
from worker.models import DoiState
from worker.ops.status import work_status
from worker.registrars import duplicates, guard
from worker.registrars.service import ReleaseRefused, release


@dataclass
class Match:
    doi: str
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)


class Finder:
    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.asked: list[Any] = []

    def __call__(self, work: Any) -> list[Match]:
        self.asked.append(work)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def guarded(deps, tune):
    tune(doi={"duplicate_check": True})
    return deps


MATCH = Match("10.1234/existing", 0.97, {"title": 0.99, "year": True, "first_author": "lovelace"})


def test_likely_duplicate_is_held_with_evidence_and_reported(session, guarded, sandbox):
    guarded.duplicate_finder = finder = Finder([MATCH, Match("10.5555/weaker", 0.91)])
    outcome = event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    assert "checking for possible duplicates first" in outcome.message
    assert reg.duplicate_check == "pending"
    assert sync(session, guarded, reg) is None  # nothing is sent before the check
    assert guard.check_registration(session, guarded, reg.id) is None
    reg = registration(session, "w-1")
    # Then the registration waits for a person, who sees why
    assert reg.state == DoiState.ON_HOLD
    assert reg.warning == "possible duplicate of 10.1234/existing (score 0.97)"
    assert reg.hold["possible_duplicate_of"] == "10.1234/existing"
    assert [m["doi"] for m in reg.hold["matches"]] == ["10.1234/existing", "10.5555/weaker"]
    assert finder.asked[0].title == "Ocean temperatures 2020" and finder.asked[0].doi == reg.doi
    (held,) = sent(session, "doi.on_hold")
    assert held.payload["possible_duplicate_of"] == "10.1234/existing"
    assert held.payload["matches"][0]["evidence"]["first_author"] == "lovelace"
    status = work_status(session, reg.work.source, "w-1")["doi"]
    assert status["state"] == "on_hold" and status["hold"]["possible_duplicate_of"]
    assert sync(session, guarded, reg) is None
    assert calls(session, "datacite") == []
    # When an operator releases it
    release(session, reg.work.source, "w-1", settings=guarded.settings)
    reg = registration(session, "w-1")
    assert reg.state == DoiState.RESERVED and reg.duplicate_check == "released"
    assert sync(session, guarded, reg) is None
    assert registration(session, "w-1").state == DoiState.FINDABLE
    assert list(datacite_dois(sandbox)) == [reg.doi]


def test_no_match_goes_straight_on(session, guarded, sandbox):
    guarded.duplicate_finder = Finder([])
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    assert guard.check_registration(session, guarded, reg.id) is None
    reg = registration(session, "w-1")
    assert reg.duplicate_check == "clear" and reg.state == DoiState.RESERVED
    assert sync(session, guarded, reg) is None
    assert registration(session, "w-1").state == DoiState.FINDABLE


def test_a_work_carrying_its_doi_is_not_checked(session, guarded):
    guarded.duplicate_finder = Finder([MATCH])
    event(session, "work.published", datacite_work(doi="10.5072/given"))
    assert registration(session, "w-1").duplicate_check is None


def test_a_doi_the_emitting_system_vouches_is_new_is_not_checked(session, guarded):
    guarded.duplicate_finder = finder = Finder([MATCH])
    work = datacite_work(registration={"registrar": "datacite", "new_doi": True})
    event(session, "work.published", work)
    assert registration(session, "w-1").duplicate_check is None
    assert finder.asked == []


def test_guard_off_by_default_checks_nothing(session, deps):
    event(session, "work.published", datacite_work())
    assert registration(session, "w-1").duplicate_check is None


def test_search_failures_are_retried_then_the_check_is_skipped_with_a_warning(
    session, guarded, sandbox, tune
):
    tune(doi={"max_retries": 2})
    guarded.duplicate_finder = Finder(TransientError("crossref search: 503"))
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    assert guard.check_registration(session, guarded, reg.id) == pytest.approx(0.01)
    assert "registry search failed" in registration(session, "w-1").last_error
    assert guard.check_registration(session, guarded, reg.id) is None
    reg = registration(session, "w-1")
    assert reg.duplicate_check == "skipped"
    assert reg.warning.startswith("duplicate check skipped: duplicate check: registry search")
    assert sync(session, guarded, reg) is None
    assert registration(session, "w-1").state == DoiState.FINDABLE


def test_guard_unavailable_in_the_process_is_skipped_with_a_warning(session, guarded):
    guarded.duplicate_finder = None
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    guard.check_registration(session, guarded, reg.id)
    reg = registration(session, "w-1")
    assert reg.duplicate_check == "skipped" and "not configured" in reg.warning


def test_follow_up_event_checks_the_changed_work_again(session, guarded, sandbox):
    guarded.duplicate_finder = Finder([MATCH], [])
    event(session, "work.published", datacite_work(version=1))
    reg = registration(session, "w-1")
    guard.check_registration(session, guarded, reg.id)
    assert registration(session, "w-1").state == DoiState.ON_HOLD
    outcome = event(session, "work.updated", datacite_work(version=2, title="A distinct title"))
    assert "checked again" in outcome.message
    guard.check_registration(session, guarded, reg.id)
    reg = registration(session, "w-1")
    assert reg.state == DoiState.RESERVED and reg.duplicate_check == "clear"


def test_withdrawal_while_on_hold_sends_nothing(session, guarded):
    guarded.duplicate_finder = Finder([MATCH])
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    guard.check_registration(session, guarded, reg.id)
    outcome = event(session, "work.withdrawn", {"id": "w-1"})
    assert "never registered" in outcome.message
    assert registration(session, "w-1").state == DoiState.WITHDRAWN
    assert calls(session, "datacite") == []


def test_release_needs_force_unless_held(session, deps, sandbox):
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    sync(session, deps, reg)
    with pytest.raises(ReleaseRefused, match="is findable, not on hold; use --force"):
        release(session, reg.work.source, "w-1", settings=deps.settings)
    with pytest.raises(LookupError, match="no work 'nope'"):
        release(session, reg.work.source, "nope", settings=deps.settings)
    # --force sends it again whatever DataCite last confirmed
    release(session, reg.work.source, "w-1", force=True, settings=deps.settings)
    assert sync(session, deps, registration(session, "w-1")) is None
    assert [c.method for c in calls(session, "datacite")] == ["PUT", "PUT"]


def test_the_toolkit_guard_over_the_sandbox_registries_holds_a_real_duplicate(
    session, guarded, sandbox
):
    # Given DataCite already holds a DOI for this dataset (minted by another system)
    guarded.duplicate_finder = Finder([])
    event(session, "work.published", datacite_work("w-1"))
    first = registration(session, "w-1")
    guard.check_registration(session, guarded, first.id)
    sync(session, guarded, registration(session, "w-1"))
    assert registration(session, "w-1").state == DoiState.FINDABLE
    # When the same work arrives again under another id, checked by the PID toolkit's guard
    guarded.duplicate_finder = duplicates.registry_finder(
        guarded.settings, threshold=guarded.settings.doi.duplicate_threshold
    )
    event(session, "work.published", datacite_work("w-2"))
    second = registration(session, "w-2")
    assert guard.check_registration(session, guarded, second.id) is None
    second = registration(session, "w-2")
    # Then it is held as a possible duplicate of the existing DOI, with the toolkit's evidence
    assert second.state == DoiState.ON_HOLD
    assert second.hold["possible_duplicate_of"] == first.doi
    evidence = second.hold["matches"][0]["evidence"]
    assert evidence["title"]["similarity"] == 1.0
    assert list(datacite_dois(sandbox)) == [first.doi]


def test_a_failed_search_is_recorded_with_its_next_try_and_one_warning(
    session, guarded, tune, logs
):
    tune(doi={"retry_backoff": [30.0]})
    guarded.duplicate_finder = finder = Finder(TransientError("crossref search: 503"))
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    assert guard.check_registration(session, guarded, reg.id) == 30.0
    reg = registration(session, "w-1")
    assert reg.retry_count == 1 and reg.next_attempt_at is not None
    (line,) = [e for e in logs if e["log_level"] in ("warning", "error", "critical")]
    assert line["event"] == "duplicate_check_retry_scheduled" and line["delay_s"] == 30.0
    assert not any("exc_info" in e for e in logs)
    # A message arriving before the scheduled try is a duplicate and asks nothing
    assert guard.check_registration(session, guarded, reg.id) is None
    assert len(finder.asked) == 1


def test_a_refused_search_skips_the_check_at_once(session, guarded, sandbox):
    refused = RequestError(
        "crossref_api GET /works answered 400", service="crossref_api", status=400
    )
    guarded.duplicate_finder = finder = Finder(refused)
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    assert guard.check_registration(session, guarded, reg.id) is None
    reg = registration(session, "w-1")
    assert reg.duplicate_check == "skipped" and len(finder.asked) == 1
    assert reg.warning.startswith(
        "duplicate check skipped: duplicate check: registry search refused"
    )
    assert sync(session, guarded, reg) is None
    assert registration(session, "w-1").state == DoiState.FINDABLE
