"""The requests the issue names, which answered 500: each is now a 4xx naming the problem."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("url", "status", "names"),
    [
        ("/works/%00/x", 400, "path"),
        ("/works/https%3A%2F%2Fcris.example.edu/a%00b", 400, "path"),
        ("/orcid/connect?person=%00", 400, "query.'person'"),
        ("/orcid/callback?state=e%C3%A7%00", 400, "query.'state'"),
        ("/orcid/callback?st%00ate=x", 400, "query"),
    ],
)
def test_unsafe_parameters_are_a_4xx_naming_them(client, url, status, names):
    response = client.get(url)
    assert response.status_code == status, response.text
    assert any(names in p["path"] for p in response.json()["problems"]), response.json()
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("receipt", ["9223372036854775808", "-1", "%00", "x" * 2000])
def test_a_receipt_that_is_no_uuid_is_not_found_never_a_500(client, receipt):
    """Receipts are random UUIDs: anything else, signed, is simply not found."""
    from tests.conftest import INTAKE_SECRET
    from tests.helpers import signed_get

    response = signed_get(client, f"/events/{receipt}", secret=INTAKE_SECRET)
    assert response.status_code in (400, 404), response.text
    assert client.get("/healthz").status_code == 200
