"""The Work model: what it accepts, how it normalises, and how it names each problem."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from tests.metadata.examples import EXAMPLES
from worker.metadata.errors import WorkValidationError
from worker.metadata.types import TYPES, WorkType
from worker.metadata.work import Work, validate_work, work_json_schema, work_to_json


def problems(data) -> dict[str, str]:
    with pytest.raises(WorkValidationError) as info:
        validate_work(data)
    return dict(info.value.problems)


def test_only_id_type_and_title_are_required():
    work = validate_work({"id": "1", "type": "other", "title": "T"})
    assert work.registrar == "none"
    assert problems({}) == {"id": "required", "type": "required", "title": "required"}


def test_identifiers_are_normalised_at_the_edge():
    work = validate_work(EXAMPLES["journal-article"])
    assert work.doi == "10.32013/abc-4711"
    assert work.contributors[0].orcid == "0000-0002-1825-0097"
    assert work.contributors[1].affiliations[0].ror == "https://ror.org/02mhbdp94"
    assert work.funding[0].funder_id == "10.13039/501100000780"
    assert work.container is not None
    assert (work.container.first_page, work.container.last_page, work.container.pages) == (
        "101",
        "118",
        "101-118",
    )


def test_each_problem_is_named_by_its_json_path():
    data = copy.deepcopy(EXAMPLES["journal-article"])
    data["contributors"][0]["orcid"] = "0000-0002-1825-0098"
    data["contributors"][1]["affiliations"][0]["ror"] = "02mhbdp95"
    data["container"]["issn"] = "0317-8472"
    data["publication_date"] = "2021-02-30"
    data["doi"] = "10.12/short"
    data["titel"] = "typo"
    data["funding"][0]["funder_id"] = "European Commission"
    data["related_identifiers"][0]["relation_type"] = "IsFriendOf"
    found = problems(data)
    assert found["contributors[0].orcid"] == "invalid check digit"
    assert found["contributors[1].affiliations[0].ror"] == "invalid checksum"
    assert found["container.issn"] == "invalid check digit"
    assert "calendar date" in found["publication_date"]
    assert "10.NNNN" in found["doi"]
    assert found["titel"] == "unknown field"
    assert "funder" in found["funding[0].funder_id"].lower()
    assert "IsSupplementTo" in found["related_identifiers[0].relation_type"]
    assert len(found) == 8


@pytest.mark.parametrize(
    ("contributor", "message"),
    [
        ({"name": "CERN", "type": "organization", "orcid": "0000-0002-1825-0097"}, "name only"),
        ({"given": "Ann"}, "family name or a name"),
        ({"type": "organization"}, "needs a name"),
        ({"family": "X", "affiliations": [{}]}, "name or a ror"),
    ],
)
def test_contributor_rules(contributor, message):
    found = problems({"id": "1", "type": "other", "title": "T", "contributors": [contributor]})
    assert any(message in text for text in found.values()), found


def test_contributor_kind_is_inferred():
    work = validate_work(
        {"id": "1", "type": "other", "title": "T",
         "contributors": [{"name": "CERN"}, {"family": "Curie"}, {"name": "M. Curie", "type": "person"}]}
    )  # fmt: skip
    assert [c.type for c in work.contributors] == ["organization", "person", "person"]
    assert work.contributors[2].full_name == "M. Curie"


@pytest.mark.parametrize("value", ["2020", "2020-02", "2020-02-29"])
def test_partial_dates_accepted(value):
    assert (
        validate_work(
            {"id": "1", "type": "other", "title": "T", "publication_date": value}
        ).publication_date
        == value
    )


@pytest.mark.parametrize(
    "value", ["20", "2020-2", "2021-02-29", "2020/01/01", "2020-01-01T00:00:00"]
)
def test_bad_publication_dates_rejected(value):
    assert "publication_date" in problems(
        {"id": "1", "type": "other", "title": "T", "publication_date": value}
    )


def test_control_characters_and_blank_title_are_refused():
    found = problems({"id": "1", "type": "other", "title": "   ", "abstract": "bad \x0b char"})
    assert "title" in found
    assert "U+000B" in found["abstract"]


def test_blank_optional_text_reads_as_absent():
    work = validate_work(
        {"id": "1", "type": "other", "title": "T", "subtitle": " ", "publisher": ""}
    )
    assert work.subtitle is None
    assert work.publisher is None


def test_version_is_a_positive_integer_and_distinct_from_resource_version():
    work = validate_work(
        {"id": "1", "type": "dataset", "title": "T", "version": 3, "resource_version": "1.0"}
    )
    assert (work.version, work.resource_version) == (3, "1.0")
    assert "version" in problems({"id": "1", "type": "other", "title": "T", "version": 0})


def test_every_type_maps_to_every_target():
    assert set(TYPES) == set(WorkType)
    for row in TYPES.values():
        assert all(
            [row.datacite_general, row.crossref_kind, row.orcid, row.csl, row.bibtex, row.ris]
        )


def test_json_schema_is_published_with_id_title_and_descriptions():
    schema = work_json_schema()
    assert schema["$id"]
    assert schema["title"] == "Work"
    assert schema["required"] == ["id", "type", "title"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["publication_date"]["description"]
    assert work_json_schema("https://pidsync.example/schemas/work.json")["$id"].endswith(
        "work.json"
    )


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_json_schema_accepts_the_examples_and_refuses_typos(name):
    validator = jsonschema.Draft202012Validator(work_json_schema())
    assert list(validator.iter_errors(EXAMPLES[name])) == []
    typo = {**EXAMPLES[name], "titel": "x"}
    assert [e.message for e in validator.iter_errors(typo)]
    bad_type = {**EXAMPLES[name], "type": "blog"}
    assert list(validator.iter_errors(bad_type))


def test_work_to_json_round_trips():
    work = validate_work(EXAMPLES["dataset"])
    data = work_to_json(work)
    assert "subtitle" not in data  # empty optional fields left out
    assert Work.model_validate(data) == work


def test_validate_work_refuses_non_objects():
    assert problems([1, 2]) == {"": "a Work must be a JSON object"}
