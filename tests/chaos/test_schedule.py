"""The chaos run's schedule: a pure function of the seed, meeting the issue's floor."""

from __future__ import annotations

import pytest

from worker.chaos.disruptions import AGENCIES, FULL, QUICK, Kind, Profile, counts, schedule


def test_a_seed_replays_the_same_schedule():
    assert schedule(17, FULL, 3) == schedule(17, FULL, 3)


def test_another_seed_draws_another_schedule():
    first, second = schedule(17, FULL, 3), schedule(18, FULL, 3)
    assert [(d.at, d.kind, d.target) for d in first] != [(d.at, d.kind, d.target) for d in second]


def test_the_full_run_breaks_at_least_what_the_issue_asks():
    tally = counts(schedule(5, FULL, 3))
    assert tally["kill_worker"] + tally["kill_in_window"] >= 20
    assert tally["kill_in_window"] >= 1
    assert tally["kill_web"] >= 1
    assert tally["kill_scheduler_leader"] >= 1
    assert tally["restart_redis"] >= 3
    assert tally["restart_postgres"] >= 3
    assert tally["pressure_on"] == tally["pressure_off"] >= 1
    outages = [d for d in schedule(5, FULL, 3) if d.kind is Kind.OUTAGE]
    assert sorted(d.target for d in outages) == sorted(AGENCIES)
    assert {d.seconds for d in outages} == {30.0}


def test_the_quick_run_restarts_each_server_once():
    tally = counts(schedule(5, QUICK, 3))
    assert tally["restart_redis"] == tally["restart_postgres"] == 1
    assert 1 <= tally["kill_worker"] + tally["kill_in_window"] < 20


def test_everything_happens_within_the_run_in_time_order():
    plan = schedule(99, FULL, 3)
    assert [d.at for d in plan] == sorted(d.at for d in plan)
    assert all(0 < d.at <= FULL.duration for d in plan)
    assert {d.target for d in plan if d.kind is Kind.KILL_WORKER} <= {"0", "1", "2"}


def test_restarts_of_one_server_do_not_pile_up():
    # One restart in each slice of the run: at least a sixth of the span apart on average
    for seed in range(20):
        times = [d.at for d in schedule(seed, FULL, 3) if d.kind is Kind.RESTART_POSTGRES]
        assert len(set(times)) == len(times) == 3


@pytest.mark.parametrize("bad", [{"duration": 0}, {"worker_kills": -1}, {"outage_seconds": -5}])
def test_a_bad_profile_is_refused(bad):
    values = {**QUICK.__dict__, **bad}
    with pytest.raises(ValueError, match="profile"):
        Profile(**values)


def test_there_must_be_a_worker_to_kill():
    with pytest.raises(ValueError, match="worker group"):
        schedule(1, QUICK, 0)
