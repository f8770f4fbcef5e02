"""Crossref deposit and submission polling, driven by plain requests as pidsync does."""

from __future__ import annotations

import time

import pytest
from lxml import etree

from tests.sandbox.deposits import article, deposit

SUCCESS_PAGE = (
    "\n\n\n\n<html>\n<head><title>SUCCESS</title>\n</head>\n<body>\n<h2>SUCCESS</h2>\n"
    "<p>Your batch submission was successfully received.</p>\n</body>\n</html>\n"
)


def upload(http, info, content: bytes, file_name: str, *, login=None, password=None):
    return http.post(
        info["crossref_deposit_url"] + "/servlet/deposit",
        data={
            "operation": "doMDUpload",
            "login_id": login or info["crossref_login_id"],
            "login_passwd": password or info["crossref_password"],
        },
        files={"fname": (file_name, content, "application/xml")},
        timeout=10,
    )


def poll(http, info, file_name: str, *, want="completed", kind="result", timeout=10.0):
    params = {
        "usr": info["crossref_login_id"],
        "pwd": info["crossref_password"],
        "file_name": file_name,
        "type": kind,
    }
    deadline = time.monotonic() + timeout
    while True:
        answer = http.get(
            info["crossref_deposit_url"] + "/servlet/submissionDownload", params=params, timeout=10
        )
        if kind != "result":
            return answer
        root = etree.fromstring(answer.content)
        if root.get("status") == want or time.monotonic() > deadline:
            return answer
        time.sleep(0.02)


def diagnostics(answer) -> tuple[etree._Element, list[tuple[str, str, str]]]:
    root = etree.fromstring(answer.content)
    records = [
        (r.get("status"), r.findtext("doi"), r.findtext("msg"))
        for r in root.findall("record_diagnostic")
    ]
    return root, records


def test_deposit_answers_the_success_page_and_polls_through_to_completed(sandbox, info, http):
    # Given a sandbox that keeps submissions queued for a while (long enough that the first poll
    # sees it queued on a loaded machine)
    sandbox.set_crossref_processing(queued_seconds=2.0, in_process_seconds=0.1)
    # When a deposit is uploaded
    answer = upload(http, info, deposit(article("10.32013/dep-1")), "dep-1.xml")
    # Then Crossref's exact SUCCESS page comes back
    assert answer.status_code == 200
    assert answer.text == SUCCESS_PAGE
    assert answer.headers["Content-Type"].startswith("text/html")
    # And the first poll shows the queued body in Crossref's shape
    queued = poll(http, info, "dep-1.xml", want="queued")
    submission_id = sandbox.state()["crossref"]["submissions"][0]["submission_id"]
    assert queued.text == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<doi_batch_diagnostic status="queued">\n'
        f"  <submission_id>{submission_id}</submission_id>\n  <batch_id />\n</doi_batch_diagnostic>\n"
    )
    # And the submission completes with one Success record and the batch counts
    root, records = diagnostics(poll(http, info, "dep-1.xml"))
    assert root.get("status") == "completed"
    assert root.findtext("submission_id") == str(submission_id)
    assert root.findtext("batch_id") == "batch-1"
    assert records == [("Success", "10.32013/dep-1", "Successfully added")]
    counts = {child.tag: child.text for child in root.find("batch_data")}
    assert counts == {
        "record_count": "1",
        "success_count": "1",
        "warning_count": "0",
        "failure_count": "0",
    }
    state = sandbox.state()["crossref"]
    assert state["submissions"][0]["records"] == [
        {"doi": "10.32013/dep-1", "status": "Success", "msg": "Successfully added"}
    ]
    assert state["submissions"][0]["status"] == "completed"
    assert [d["doi"] for d in state["dois"]] == ["10.32013/dep-1"]


def test_query_parameters_and_batch_id_lookup_and_contents(sandbox, info, http):
    content = deposit(article("10.32013/q-1"), batch_id="my-batch-7")
    answer = http.post(
        info["crossref_deposit_url"] + "/servlet/deposit",
        params={
            "operation": "doMDUpload",
            "login_id": info["crossref_login_id"],
            "login_passwd": info["crossref_password"],
        },
        files={"fname": ("q-1.xml", content)},
    )
    assert answer.text == SUCCESS_PAGE
    poll(http, info, "q-1.xml")
    by_batch = http.get(
        info["crossref_deposit_url"] + "/servlet/submissionDownload",
        params={
            "usr": info["crossref_login_id"],
            "pwd": info["crossref_password"],
            "doi_batch_id": "my-batch-7",
            "type": "result",
        },
    )
    assert diagnostics(by_batch)[1] == [("Success", "10.32013/q-1", "Successfully added")]
    assert poll(http, info, "q-1.xml", kind="contents").content == content


def test_timestamp_must_grow_per_doi(sandbox, info, http):
    upload(http, info, deposit(article("10.32013/ts-1"), timestamp=200), "ts-a.xml")
    assert diagnostics(poll(http, info, "ts-a.xml"))[1][0][0] == "Success"
    # When the same DOI is deposited again with the same timestamp
    upload(http, info, deposit(article("10.32013/ts-1", "Changed"), timestamp=200), "ts-b.xml")
    # Then Crossref refuses the record with its message
    assert diagnostics(poll(http, info, "ts-b.xml"))[1] == [
        (
            "Failure",
            "10.32013/ts-1",
            "Record not processed because submitted version: 200 is less or equal to previously submitted version (DOI match)",
        )
    ]
    # And a newer timestamp updates the record
    upload(http, info, deposit(article("10.32013/ts-1", "Changed"), timestamp=201), "ts-c.xml")
    assert diagnostics(poll(http, info, "ts-c.xml"))[1] == [
        ("Success", "10.32013/ts-1", "Successfully updated")
    ]
    dois = sandbox.state()["crossref"]["dois"]
    assert [(d["doi"], d["timestamp"], d["title"], d["deposits"]) for d in dois] == [
        ("10.32013/ts-1", 201, ["Changed"], 2)
    ]


def test_mixed_batch_prefixes_ownership_and_forced_outcomes(sandbox, info, http):
    # Given forced outcomes for two DOIs
    sandbox.crossref_force_outcome("10.32013/MIX-2", "Warning", "Added with conflict")
    forced = http.post(
        info["control_url"] + "/crossref/outcomes",
        json={"doi": "10.32013/mix-3", "status": "Failure", "msg": "Invalid ISSN"},
    )
    assert forced.status_code == 200
    # When one batch holds them, a normal record and a record under another prefix
    content = deposit(
        article("10.32013/mix-1"),
        article("10.32013/mix-2"),
        article("10.32013/mix-3"),
        article("10.80002/mix-4"),
    )
    upload(http, info, content, "mix.xml")
    root, records = diagnostics(poll(http, info, "mix.xml"))
    # Then each record has its own outcome, and the counts add up
    assert records == [
        ("Success", "10.32013/mix-1", "Successfully added"),
        ("Warning", "10.32013/mix-2", "Added with conflict"),
        ("Failure", "10.32013/mix-3", "Invalid ISSN"),
        (
            "Failure",
            "10.80002/mix-4",
            "All prefixes in a submission must match (DOI[10.80002/mix-4])",
        ),
    ]
    counts = {child.tag: child.text for child in root.find("batch_data")}
    assert counts == {
        "record_count": "4",
        "success_count": "1",
        "warning_count": "1",
        "failure_count": "2",
    }
    assert sorted(d["doi"] for d in sandbox.state()["crossref"]["dois"]) == [
        "10.32013/mix-1",
        "10.32013/mix-2",
    ]
    # And a batch under a prefix the login does not own is refused record by record
    upload(http, info, deposit(article("10.80002/foreign")), "foreign.xml")
    assert diagnostics(poll(http, info, "foreign.xml"))[1] == [
        ("Failure", "10.80002/foreign", "User not allowed to add records for prefix: 10.80002")
    ]


def test_schema_failure_and_unparsable_file(sandbox, info, http):
    from worker.reference import xsd

    if xsd("crossref") is None:
        pytest.skip("Crossref XSD not at hand (../shared/reference)")
    invalid = (
        deposit(article("10.32013/bad-1"), article("10.32013/bad-2"))
        .replace(b"<titles>", b"<titlez>", 1)
        .replace(b"</titles>", b"</titlez>", 1)
    )
    upload(http, info, invalid, "invalid.xml")
    _, records = diagnostics(poll(http, info, "invalid.xml"))
    assert [(status, doi) for status, doi, _ in records] == [
        ("Failure", "10.32013/bad-1"),
        ("Failure", "10.32013/bad-2"),
    ]
    assert records[0][2].startswith("Error: ")
    assert "titlez" in records[0][2]
    upload(http, info, b"<doi_batch><unclosed>", "garbage.xml")
    assert diagnostics(poll(http, info, "garbage.xml"))[1][0][:2] == ("Failure", "")
    assert sandbox.state()["crossref"]["dois"] == []


def test_wrong_credentials(sandbox, info, http):
    answer = upload(http, info, deposit(article("10.32013/x")), "x.xml", password="wrong")
    assert answer.status_code == 401
    assert answer.text == "Wrong credentials. Incorrect username or password."
    polled = http.get(
        info["crossref_deposit_url"] + "/servlet/submissionDownload",
        params={
            "usr": info["crossref_login_id"],
            "pwd": "wrong",
            "file_name": "x.xml",
            "type": "result",
        },
    )
    assert polled.text == "Wrong credentials. Incorrect username or password."
    assert sandbox.state()["crossref"]["submissions"] == []


def test_queue_limit_is_429(sandbox, info, http):
    sandbox.set_crossref_processing(queued_seconds=30, queue_limit=2)
    assert upload(http, info, deposit(article("10.32013/q1")), "q1.xml").status_code == 200
    assert upload(http, info, deposit(article("10.32013/q2")), "q2.xml").status_code == 200
    assert upload(http, info, deposit(article("10.32013/q3")), "q3.xml").status_code == 429
    # Another login has its own queue
    other = upload(
        http,
        info,
        deposit(article("10.80002/o1")),
        "o1.xml",
        login="other-role",
        password="other-crossref-password",
    )
    assert other.status_code == 200


def test_unknown_submission(sandbox, info, http):
    answer = poll(http, info, "never-sent.xml", want="unknown_submission")
    assert etree.fromstring(answer.content).get("status") == "unknown_submission"
    missing_type = http.get(
        info["crossref_deposit_url"] + "/servlet/submissionDownload",
        params={
            "usr": info["crossref_login_id"],
            "pwd": info["crossref_password"],
            "file_name": "x",
        },
    )
    assert missing_type.status_code == 400
