"""The sandbox's duplicate check reads each work's keys once per body and each record once per
request (a 1,000-work backfill was quadratic in the simulator). These tests hold it to ORCID's
answers where a cache or an index could go stale: a PUT that changes a work's DOI, a deleted
work, another client's work, and a clash inside one bulk request."""

from __future__ import annotations

import requests

from tests.sandbox.test_orcid_helpers import (
    api,
    error_code,
    headers,
    member_token,
    post_work,
    put_code_of,
    researcher,
    second_client,
    work,
)


def _owner(sandbox):
    orcid = researcher(sandbox, given_names="Dup", family_name="Index")
    return orcid, member_token(sandbox, orcid)


def _bulk(info, orcid, token, *dois):
    body = {"bulk": [{"work": work(doi, title=f"Work {doi}")} for doi in dois]}
    answer = requests.post(f"{api(info)}/{orcid}/works", json=body, headers=headers(token),
                           timeout=10)  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()["bulk"]


def test_a_put_that_changes_the_doi_moves_the_duplicate_check_with_it(sandbox, info):
    orcid, token = _owner(sandbox)
    code = put_code_of(post_work(info, orcid, token, work("10.5555/before")))
    # Given the work's keys were read once (a POST compared against them) ...
    assert error_code(post_work(info, orcid, token, work("10.5555/before"))) == 9021

    # ... when a PUT gives the work another DOI,
    put = requests.put(f"{api(info)}/{orcid}/work/{code}",
                       json=work("10.5555/after", **{"put-code": code}), headers=headers(token),
                       timeout=5)  # fmt: skip
    assert put.status_code == 200, put.text

    # then the old DOI is free again and the new one clashes, in single and bulk writes alike.
    assert post_work(info, orcid, token, work("10.5555/before")).status_code == 201
    clash = post_work(info, orcid, token, work("10.5555/after"))
    assert error_code(clash) == 9021
    assert f"put-code {code}" in clash.json()["developer-message"]
    items = _bulk(info, orcid, token, "10.5555/after")
    assert items[0]["error"]["error-code"] == 9021


def test_a_deleted_work_no_longer_blocks_its_doi_in_a_bulk(sandbox, info):
    orcid, token = _owner(sandbox)
    code = put_code_of(post_work(info, orcid, token, work("10.5555/gone")))
    deleted = requests.delete(f"{api(info)}/{orcid}/work/{code}", headers=headers(token),
                              timeout=5)  # fmt: skip
    assert deleted.status_code == 204

    items = _bulk(info, orcid, token, "10.5555/gone")

    assert "work" in items[0]


def test_a_clash_inside_one_bulk_names_the_earlier_item_and_other_clients_never_clash(
    sandbox, info
):
    orcid, token = _owner(sandbox)
    other = member_token(sandbox, orcid, client_id=second_client(sandbox)[0])
    theirs = put_code_of(post_work(info, orcid, other, work("10.5555/shared")))

    items = _bulk(info, orcid, token, "10.5555/shared", "10.5555/x", "https://doi.org/10.5555/X")

    first = items[0]["work"]["put-code"]
    assert first != theirs  # another client's work with the same DOI is no duplicate
    assert "work" in items[1]
    assert items[2]["error"]["error-code"] == 9021
    assert f"put-code {items[1]['work']['put-code']}" in items[2]["error"]["developer-message"]


def test_a_large_record_still_answers_every_duplicate_of_a_bulk(sandbox, info):
    orcid, token = _owner(sandbox)
    dois = [f"10.5555/many-{n}" for n in range(300)]
    for start in range(0, 300, 100):
        assert all("work" in item for item in _bulk(info, orcid, token, *dois[start : start + 100]))

    again = _bulk(info, orcid, token, *dois[::3][:100])

    assert [item["error"]["error-code"] for item in again] == [9021] * 100
