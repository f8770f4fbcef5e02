"""``pidsync bench``: the command, the registry, the JSON it writes and the figures' helpers.
The scenarios themselves run in ./scripts/test (``--quick``), reporting, never asserting times."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.bench import scenario
from worker import bench
from worker.bench.measure import backlogged_rate, per_second, percentile, sustained_rate
from worker.bench.report import summary
from worker.cli import main


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(bench.SCENARIOS, "tiny", "tests.bench.scenario:run")
    scenario.CALLS.clear()
    return scenario.CALLS


def test_json_holds_scenario_quick_and_the_figures(tiny, tmp_path):
    out = tmp_path / "out.json"
    result = CliRunner().invoke(main, ["bench", "tiny", "--quick", "--json", str(out)])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert written == {
        "scenario": "tiny",
        "quick": True,
        "events": 10,
        "events_per_s": 123.456,
        "series": [[0.0, 5], [1.0, 7]],
    }
    # The human summary names the scalar figures and leaves the series to the JSON
    assert "events_per_s" in result.stdout
    assert "series" not in result.stdout


def test_quick_is_passed_to_the_scenario_and_recorded(tiny, tmp_path):
    out = tmp_path / "out.json"
    assert CliRunner().invoke(main, ["bench", "tiny", "--json", str(out)]).exit_code == 0
    assert CliRunner().invoke(main, ["bench", "tiny", "--quick"]).exit_code == 0
    assert tiny == [False, True]
    assert json.loads(out.read_text())["quick"] is False


def test_an_unknown_scenario_is_exit_2_naming_it_and_the_choices():
    result = CliRunner().invoke(main, ["bench", "no-such-thing"])
    assert result.exit_code == 2
    assert "'no-such-thing'" in result.output
    for name in ("orcid-limit", "datacite-limit", "overhead", "intake"):
        assert name in result.output


def test_every_registered_scenario_loads_to_a_function():
    assert {"orcid-limit", "datacite-limit", "overhead", "intake"} <= set(bench.SCENARIOS)
    for name in bench.SCENARIOS:
        assert callable(bench.load(name)), name


def test_a_scenario_path_that_does_not_resolve_is_not_hidden(monkeypatch):
    monkeypatch.setitem(bench.SCENARIOS, "broken", "worker.bench.nothing_here:run")
    with pytest.raises(ModuleNotFoundError):
        bench.load("broken")


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([], 99) == 0.0


def test_per_second_counts_each_second_including_empty_ones():
    assert per_second([10.0, 10.5, 12.2]) == [(0.0, 2), (1.0, 0), (2.0, 1)]


def test_sustained_rate_leaves_out_the_initial_burst():
    # a burst of 40 at t=0, then 1 request every 0.1 s from t=2 to t=12
    times = [0.0] * 40 + [2.0 + i / 10 for i in range(101)]
    assert sustained_rate(times, skip=2.0) == pytest.approx(10.0)


def test_summary_shows_the_mode():
    assert "(quick)" in summary({"scenario": "x", "quick": True, "a": 1})
    assert "(full)" in summary({"scenario": "x", "quick": False, "a": 1})


def test_plot_of_a_limit_scenario_is_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="plots need the 'bench' extra")
    from worker.bench.plots import plot

    outcome = {
        "scenario": "orcid-limit",
        "quick": True,
        "limit_rps": 24.0,
        "achieved_rps": 23.5,
        "ratio": 0.979,
        "rejected": 0,
        "series": [[0.0, 40], [1.0, 24], [2.0, 23]],
    }
    (path,) = plot(outcome, tmp_path)
    assert path.read_bytes().startswith(b"\x89PNG")


MOVED = ("ops-queries", "metrics-scrape", "crossref-latency")


def test_the_scenarios_moved_from_benchmarks_are_known_by_name():
    result = CliRunner().invoke(main, ["bench", "no-such-thing"])
    for name in MOVED:
        assert name in bench.SCENARIOS
        assert callable(bench.load(name)), name
        assert name in result.output


def test_metrics_scrape_quick_runs_on_a_filled_database(tmp_path):
    # The cheapest moved scenario, end to end: its own database filled, then scraped.
    out = tmp_path / "scrape.json"
    result = CliRunner().invoke(main, ["bench", "metrics-scrape", "--quick", "--json", str(out)])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert written["scenario"] == "metrics-scrape"
    assert written["quick"] is True
    assert written["events_rows"] == 20_000
    assert written["scrapes"] == 3
    # The scrape read the filled rows: the failed events are among the gauges it served
    assert written["scrape_bytes"] > 0
    assert written["slowest_ms"] >= written["median_ms"] > 0
    assert all(key == key.lower() and " " not in key for key in written)
    assert "median_ms" in result.stdout


def test_plot_of_a_part_b_scenario_is_its_own_png(tmp_path):
    pytest.importorskip("matplotlib", reason="plots need the 'bench' extra")
    from worker.bench.plots import plot

    outcome = {
        "scenario": "peer",
        "quick": True,
        "dois": 50,
        "latency_ms": 500.0,
        "peer_seconds": 25.5,
        "pidsync_seconds": 6.2,
        "ratio": 4.1,
    }
    (path,) = plot(outcome, tmp_path)
    assert path.name == "peer.png"
    assert path.read_bytes().startswith(b"\x89PNG")


def test_two_test_runs_on_one_server_use_databases_of_their_own(monkeypatch):
    from worker.bench.stack import database_name

    # A bench run by hand keeps the documented name; under two suites at once (their run names
    # set by scripts/test) each has its own: one never drops the other's database under it
    monkeypatch.delenv("PIDSYNC_TEST_RUN", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert database_name("metrics-scrape") == "pidsync_bench_metrics_scrape"
    monkeypatch.setenv("PIDSYNC_TEST_RUN", "ci-1")
    first = database_name("metrics-scrape")
    monkeypatch.setenv("PIDSYNC_TEST_RUN", "ci-2")
    assert first != database_name("metrics-scrape")
    assert first.startswith("pidsync_bench_metrics_scrape_") and first.isidentifier()


def test_the_backlogged_rate_counts_only_seconds_that_had_work_waiting():
    # Given work that arrived one item a second for 10 s, each done at once (supply-limited),
    # then 200 items at once, done at 20 a second (the limit sets the pace)
    trickle = [float(t) for t in range(10)]
    flood_ready = [10.0] * 200
    flood_done = [10.0 + n / 20 for n in range(200)]
    rate, seconds = backlogged_rate(
        trickle + flood_done, trickle + flood_ready, backlog=20, skip=0.0
    )
    # Then only the flood's seconds count, and their rate is the limit's
    assert rate == pytest.approx(20, abs=1)
    assert 8 <= seconds <= 10
    # And work that never queued up gives no rate at all rather than a wrong one
    assert backlogged_rate(trickle, trickle, backlog=20) == (0.0, 0)
