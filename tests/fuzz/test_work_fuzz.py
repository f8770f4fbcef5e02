"""The Work model under generated input (the CLI's ``render`` reads Works from files, the
intake from events): it either refuses the input with WorkValidationError naming each path, or
returns a Work every column and JSONB value can hold. Never another exception."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from tests.fuzz.strategies import works
from tests.helpers import work
from worker.metadata.errors import WorkValidationError
from worker.metadata.fields import MAX_DOI, MAX_VERSION, MAX_WORK_ID
from worker.metadata.work import validate_work, work_to_json

UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


@hypothesis_settings(
    max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
@given(data=works("w-1"))
def test_a_work_is_refused_by_path_or_fits_the_database(data):
    try:
        model = validate_work(data)
    except WorkValidationError as exc:
        problems = exc.problems
        assert problems
        assert all(isinstance(path, str) and message for path, message in problems)
        return
    stored = json.dumps(work_to_json(model), ensure_ascii=False)
    assert not UNSTORABLE.search(stored)
    assert len(model.id) <= MAX_WORK_ID
    assert model.doi is None or len(model.doi) <= MAX_DOI
    assert model.version is None or 1 <= model.version <= MAX_VERSION


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "https://repo.example.edu/\x00"),
        ("url", "https://repo.example.edu/\ud800"),
        ("doi", "10.5555/a\x00"),
        ("title", "t\udfff"),
        ("keywords", ["k\x00"]),
    ],
)
def test_the_model_itself_refuses_what_no_column_holds(field, value):
    # The intake's envelope check refuses these first; the model refuses them on its own too,
    # for Works read from files by the CLI.
    with pytest.raises(WorkValidationError) as refused:
        validate_work(work(**{field: value}))
    assert any(path.startswith(field) for path, _ in refused.value.problems)
