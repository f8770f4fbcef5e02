"""DataCite MDS simulator, driven end to end by the `datacite` package's DataCiteMDSClient, and by
plain requests where a client would never go (mismatched DOIs, other repositories' DOIs)."""

from __future__ import annotations

import pytest
from datacite import DataCiteMDSClient
from datacite.errors import (
    DataCiteBadRequestError,
    DataCiteForbiddenError,
    DataCiteNoContentError,
    DataCiteNotFoundError,
    DataCiteServerError,
    DataCiteUnauthorizedError,
)

from tests.sandbox.test_datacite import DATACITE_XML, auth
from worker.reference import xsd

XML = DATACITE_XML.replace("10.5072/XML-1", "10.5072/MDS-1")


def mds_url(info) -> str:
    return info["datacite_api_url"].replace("/datacite", "/datacite-mds")


def mds_client(info, **overrides) -> DataCiteMDSClient:
    return DataCiteMDSClient(
        username=overrides.get("username", info["datacite_repository_id"]),
        password=overrides.get("password", info["datacite_password"]),
        prefix=info["datacite_prefix"],
        url=mds_url(info),
        timeout=5,
    )


def held(sandbox) -> dict[str, dict]:
    return {d["doi"]: d for d in sandbox.state()["datacite"]["dois"]}


def test_the_mds_client_registers_a_doi_end_to_end(sandbox, info):
    client = mds_client(info)
    # Metadata first: the DOI comes from the XML's identifier, and is a draft without a URL
    assert client.metadata_post(XML) == "OK (10.5072/MDS-1)"
    assert held(sandbox)["10.5072/mds-1"]["state"] == "draft"
    with pytest.raises(DataCiteNoContentError):
        client.doi_get("10.5072/MDS-1")
    # Then the URL: the DOI is findable
    assert client.doi_post("10.5072/MDS-1", "https://example.org/mds-1") == "OK"
    assert client.doi_get("10.5072/MDS-1") == "https://example.org/mds-1"
    assert client.metadata_get("10.5072/MDS-1") == XML
    record = held(sandbox)["10.5072/mds-1"]
    assert (record["state"], record["url"]) == ("findable", "https://example.org/mds-1")
    assert record["metadata"]["titles"][0]["title"] == "Eating your own dog food"
    # Media, read back as the client parses them
    media = {
        "application/pdf": "https://example.org/mds-1.pdf",
        "text/csv": "https://example.org/c",
    }
    assert client.media_post("10.5072/MDS-1", media) == "OK"
    assert client.media_get("10.5072/MDS-1") == media
    # Deleting the metadata hides the DOI; it still resolves
    assert client.metadata_delete("10.5072/MDS-1") == "OK"
    assert held(sandbox)["10.5072/mds-1"]["state"] == "registered"
    assert client.doi_get("10.5072/MDS-1") == "https://example.org/mds-1"
    # Metadata posted again shows it
    assert client.metadata_post(XML) == "OK (10.5072/MDS-1)"
    assert held(sandbox)["10.5072/mds-1"]["state"] == "findable"


def test_the_mds_client_sees_each_refusal_as_its_error(sandbox, info):
    client = mds_client(info)
    with pytest.raises(DataCiteUnauthorizedError):
        mds_client(info, password="wrong").metadata_post(XML)
    with pytest.raises(DataCiteNotFoundError):
        client.metadata_get("10.5072/never-made")
    with pytest.raises(DataCiteNotFoundError):
        client.media_get("10.5072/never-made")
    with pytest.raises(DataCiteForbiddenError):  # another repository's prefix
        client.metadata_post(DATACITE_XML.replace("10.5072/XML-1", "10.80001/THEIRS"))
    with pytest.raises(DataCiteBadRequestError):
        client.doi_post("10.5072/MDS-1", "javascript:alert(1)")
    assert held(sandbox) == {}


def test_invalid_metadata_is_refused_and_nothing_is_stored(sandbox, info):
    if xsd("datacite") is None:
        pytest.skip("DataCite XSD not at hand (../shared/reference)")
    broken = XML.replace("<publicationYear>2016</publicationYear>", "")
    with pytest.raises(DataCiteServerError) as refused:  # 422: the client's catch-all
        mds_client(info).metadata_post(broken)
    assert "publicationYear" in str(refused.value)
    assert held(sandbox) == {}


def test_a_url_needs_metadata_first(sandbox, info):
    with pytest.raises(DataCiteServerError):  # 422: nothing to publish
        mds_client(info).doi_post("10.5072/NO-METADATA", "https://example.org/x")
    assert held(sandbox) == {}


def test_path_and_body_must_name_the_same_doi(sandbox, info, http):
    base = mds_url(info)
    answer = http.put(
        f"{base}/metadata/10.5072/other",
        data=XML.encode(),
        headers={"Content-Type": "application/xml"},
        auth=auth(info),
    )
    assert (answer.status_code, answer.text) == (
        400,
        "doi parameter does not match doi of resource",
    )
    mds_client(info).metadata_post(XML)
    mismatch = http.put(
        f"{base}/doi/10.5072/MDS-1",
        data="doi=10.5072/OTHER\nurl=https://example.org/x",
        headers={"Content-Type": "text/plain"},
        auth=auth(info),
    )
    assert (mismatch.status_code, mismatch.text) == (
        400,
        "doi parameter does not match doi of resource",
    )
    for body, missing in (("url=https://example.org/x", "doi"), ("doi=10.5072/MDS-1", "url")):
        answer = http.post(f"{base}/doi", data=body, auth=auth(info))
        assert (answer.status_code, answer.text) == (400, f"param '{missing}' required")
    form = http.post(
        f"{base}/doi",
        data={"doi": "10.5072/MDS-1", "url": "https://example.org/f"},
        auth=auth(info),
    )
    assert (form.status_code, form.text) == (201, "OK")
    assert held(sandbox)["10.5072/mds-1"]["url"] == "https://example.org/f"
    assert http.post(f"{base}/metadata", data={"a": "b"}, auth=auth(info)).status_code == 415
    assert http.post(f"{base}/metadata", data=b"not xml", auth=auth(info)).status_code == 415


def test_another_repository_cannot_read_or_change_a_doi(sandbox, info, http):
    client = mds_client(info)
    client.metadata_post(XML)
    client.doi_post("10.5072/MDS-1", "https://example.org/mds-1")
    other = ("OTHER.REPO", "other-datacite-password")
    base = mds_url(info)
    tries = [
        http.get(f"{base}/doi/10.5072/MDS-1", auth=other),
        http.get(f"{base}/metadata/10.5072/MDS-1", auth=other),
        http.put(
            f"{base}/metadata/10.5072/MDS-1",
            data=XML.replace("Eating your own dog food", "Hijacked").encode(),
            headers={"Content-Type": "application/xml"},
            auth=other,
        ),
        http.post(f"{base}/doi", data="doi=10.5072/MDS-1\nurl=https://evil.example/", auth=other),
        http.delete(f"{base}/metadata/10.5072/MDS-1", auth=other),
        http.post(
            f"{base}/media/10.5072/MDS-1", data="text/html=https://evil.example/", auth=other
        ),
    ]
    assert [(t.status_code, t.text) for t in tries] == [(403, "Access is denied")] * len(tries)
    record = held(sandbox)["10.5072/mds-1"]
    assert (record["state"], record["url"]) == ("findable", "https://example.org/mds-1")
    assert client.metadata_get("10.5072/MDS-1") == XML
    assert http.get(f"{base}/doi", auth=other).status_code == 204  # it lists none of them


def test_only_a_draft_can_be_deleted(sandbox, info, http):
    client = mds_client(info)
    client.metadata_post(XML)
    client.metadata_post(XML.replace("MDS-1", "MDS-2"))
    client.doi_post("10.5072/MDS-2", "https://example.org/2")
    base = mds_url(info)
    assert http.get(f"{base}/doi", auth=auth(info)).text == "10.5072/MDS-1\n10.5072/MDS-2"
    findable = http.delete(f"{base}/doi/10.5072/MDS-2", auth=auth(info))
    assert (findable.status_code, findable.text) == (405, "Method not allowed")
    draft = http.delete(f"{base}/doi/10.5072/MDS-1", auth=auth(info))
    assert (draft.status_code, draft.text) == (200, "OK")
    assert sorted(held(sandbox)) == ["10.5072/mds-2"]


def test_credentials_are_challenged(sandbox, info, http):
    base = mds_url(info)
    anonymous = http.get(f"{base}/doi")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="mds.datacite.org"'
    wrong = http.get(f"{base}/doi", auth=("SANDBOX.REPO", "nope"))
    assert (wrong.status_code, wrong.text) == (401, "Bad credentials")


def test_media_lines_are_checked_and_replace_by_type(sandbox, info, http):
    client = mds_client(info)
    client.metadata_post(XML)
    base = mds_url(info)
    for body, status in (("", 400), ("pdf=https://x.example/a", 422), ("text/html=ftp", 422)):
        answer = http.post(f"{base}/media/10.5072/MDS-1", data=body, auth=auth(info))
        assert answer.status_code == status, body
    client.media_post("10.5072/MDS-1", {"text/html": "https://example.org/1"})
    client.media_post("10.5072/MDS-1", {"text/html": "https://example.org/2"})
    assert client.media_get("10.5072/MDS-1") == {"text/html": "https://example.org/2"}
