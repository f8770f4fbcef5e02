"""DataCite REST simulator, driven by the `datacite` package's client and plain requests."""

from __future__ import annotations

import base64

import pytest
from datacite import DataCiteRESTClient
from datacite.errors import (
    DataCiteForbiddenError,
    DataCiteNotFoundError,
    DataCiteUnauthorizedError,
)

METADATA = {
    "creators": [
        {
            "name": "Carberry, Josiah",
            "nameType": "Personal",
            "givenName": "Josiah",
            "familyName": "Carberry",
        }
    ],
    "titles": [{"title": "Sandbox fidelity dataset"}],
    "publisher": "pidsync sandbox",
    "publicationYear": "2024",
    "types": {"resourceTypeGeneral": "Dataset"},
}


def client(info, **overrides) -> DataCiteRESTClient:
    return DataCiteRESTClient(
        username=overrides.get("username", info["datacite_repository_id"]),
        password=overrides.get("password", info["datacite_password"]),
        prefix=overrides.get("prefix", info["datacite_prefix"]),
        url=info["datacite_api_url"],
        timeout=5,
    )


def auth(info):
    return (info["datacite_repository_id"], info["datacite_password"])


def dois_url(info, doi=""):
    return info["datacite_api_url"] + "/dois" + (f"/{doi}" if doi else "")


def test_datacite_package_lifecycle(sandbox, info, http):
    # Given the datacite package's REST client pointed at the sandbox
    api = client(info)
    doi = f"{info['datacite_prefix']}/lifecycle-1"

    # When it creates a draft, then publishes it with metadata and a URL
    assert api.draft_doi(doi=doi) == doi
    assert sandbox.state()["datacite"]["dois"][0]["state"] == "draft"
    attributes = api.update_doi(
        doi, metadata={**METADATA, "event": "publish"}, url="https://example.org/a"
    )

    # Then the DOI is findable with the merged metadata, and public reads see it
    assert attributes["state"] == "findable"
    assert attributes["titles"] == METADATA["titles"]
    assert api.get_doi(doi) == "https://example.org/a"
    assert http.get(dois_url(info, doi)).json()["data"]["attributes"]["state"] == "findable"

    # When the URL is updated and the DOI hidden
    assert api.update_url(doi, "https://example.org/b") == "https://example.org/b"
    assert api.hide_doi(doi)["state"] == "registered"
    # Then anonymous readers no longer see it, the owner still does
    assert http.get(dois_url(info, doi)).status_code == 404
    assert api.get_metadata(doi)["url"] == "https://example.org/b"
    assert api.show_doi(doi)["state"] == "findable"

    # And a non-draft cannot be deleted, a draft can
    with pytest.raises(Exception) as excinfo:
        api.delete_doi(doi)
    assert "Method not allowed" in str(excinfo.value)
    draft = api.draft_doi(doi=f"{info['datacite_prefix']}/lifecycle-2")
    api.delete_doi(draft)
    with pytest.raises(DataCiteNotFoundError):
        api.get_doi(draft)
    state = sandbox.state()["datacite"]["dois"]
    assert [(d["doi"], d["state"], d["client"]) for d in state] == [
        (doi, "findable", "SANDBOX.REPO")
    ]
    assert state[0]["metadata"]["publisher"] == "pidsync sandbox"


def test_public_doi_and_generated_suffix(sandbox, info):
    api = client(info)
    doi = api.public_doi(METADATA.copy(), "https://example.org/p")
    prefix, suffix = doi.split("/")
    assert prefix == info["datacite_prefix"]
    assert len(suffix) == 9
    assert suffix[4] == "-"
    assert api.get_metadata(doi)["state"] == "findable"
    assert (
        api.private_doi(METADATA.copy(), "https://example.org/q", doi=f"{prefix}/private-1")
        == f"{prefix}/private-1"
    )
    assert api.get_metadata(f"{prefix}/private-1")["state"] == "registered"


def test_bad_credentials(sandbox, info, http):
    with pytest.raises(DataCiteUnauthorizedError):
        client(info, password="wrong").draft_doi(doi=f"{info['datacite_prefix']}/x")
    answer = http.post(dois_url(info), json={"data": {"attributes": {"doi": "10.5072/x"}}})
    assert answer.status_code == 401
    assert answer.json() == {"errors": [{"status": "401", "title": "Bad credentials."}]}
    bad = http.get(dois_url(info), auth=("SANDBOX.REPO", "nope"))
    assert bad.status_code == 401


def test_foreign_prefix_and_other_clients_doi(sandbox, info, http):
    with pytest.raises(DataCiteForbiddenError):
        client(info, prefix="10.80001").draft_doi(doi="10.80001/not-mine")
    # Given a DOI owned by the other repository
    other = ("OTHER.REPO", "other-datacite-password")
    created = http.put(
        dois_url(info, "10.80001/theirs"), json={"data": {"attributes": {}}}, auth=other
    )
    assert created.status_code == 201
    # Then our repository may neither update nor delete it
    forbidden = {
        "errors": [{"status": "403", "title": "You are not authorized to access this resource."}]
    }
    update = http.put(
        dois_url(info, "10.80001/theirs"), json={"data": {"attributes": {}}}, auth=auth(info)
    )
    assert (update.status_code, update.json()) == (403, forbidden)
    assert http.delete(dois_url(info, "10.80001/theirs"), auth=auth(info)).status_code == 403
    # And its draft is invisible to us
    assert http.get(dois_url(info, "10.80001/theirs"), auth=auth(info)).status_code == 404


def test_put_is_an_upsert_that_merges(sandbox, info, http):
    url = dois_url(info, "10.5072/upsert")
    first = http.put(
        url,
        json={"data": {"attributes": {"titles": [{"title": "One"}], "publisher": "P"}}},
        auth=auth(info),
    )
    assert first.status_code == 201
    second = http.put(
        url, json={"data": {"type": "dois", "attributes": {"publisher": "Q"}}}, auth=auth(info)
    )
    assert second.status_code == 200
    attributes = second.json()["data"]["attributes"]
    assert attributes["titles"] == [{"title": "One"}]
    assert attributes["publisher"] == "Q"
    patched = http.patch(
        url, json={"data": {"attributes": {"publicationYear": "2020"}}}, auth=auth(info)
    )
    assert patched.status_code == 200
    assert patched.json()["data"]["attributes"]["publisher"] == "Q"
    assert http.get(url, auth=auth(info), params={"publisher": "true"}).json()["data"][
        "attributes"
    ]["publisher"] == {"name": "Q"}


def test_validation_errors_one_per_problem(sandbox, info, http):
    # Given a draft with only a title
    url = dois_url(info, "10.5072/invalid")
    http.put(
        url, json={"data": {"attributes": {"titles": [{"title": "Only a title"}]}}}, auth=auth(info)
    )
    # When it is published
    answer = http.put(url, json={"data": {"attributes": {"event": "publish"}}}, auth=auth(info))
    # Then DataCite's 422 lists each missing property, and the DOI stays a draft
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert [e["source"] for e in errors] == [
        "url",
        "creators",
        "publisher",
        "publicationYear",
        "types",
    ]
    assert errors[0] == {"source": "url", "title": "Can't be blank", "uid": "10.5072/invalid"}
    assert all(set(e) == {"source", "title", "uid"} for e in errors)
    assert sandbox.state()["datacite"]["dois"][0]["state"] == "draft"
    bad_url = http.put(
        url,
        json={"data": {"attributes": {**METADATA, "url": "example.org", "event": "register"}}},
        auth=auth(info),
    )
    assert bad_url.json()["errors"] == [
        {"source": "url", "title": "URL is not valid", "uid": "10.5072/invalid"}
    ]


def test_doi_pattern_duplicate_and_missing_payload(sandbox, info, http):
    bad = http.post(
        dois_url(info), json={"data": {"attributes": {"doi": "10.5072/has space"}}}, auth=auth(info)
    )
    assert bad.json() == {
        "errors": [{"source": "doi", "title": "Is invalid", "uid": "10.5072/has space"}]
    }
    ok = http.post(
        dois_url(info), json={"data": {"attributes": {"doi": "10.5072/dup"}}}, auth=auth(info)
    )
    assert ok.status_code == 201
    assert ok.headers["Location"].endswith("/datacite/dois/10.5072/dup")
    dup = http.post(
        dois_url(info), json={"data": {"attributes": {"doi": "10.5072/DUP"}}}, auth=auth(info)
    )
    assert dup.status_code == 422
    assert dup.json()["errors"][0]["title"] == "This DOI has already been taken"
    missing = http.post(dois_url(info), json={"attributes": {}}, auth=auth(info))
    assert missing.status_code == 400
    assert (
        missing.json()["errors"][0]["title"]
        == "You need to provide a payload following the JSONAPI spec"
    )


def test_delete_non_draft_is_405_with_allow(sandbox, info, http):
    url = dois_url(info, "10.5072/kept")
    http.put(
        url,
        json={
            "data": {"attributes": {**METADATA, "url": "https://example.org", "event": "register"}}
        },
        auth=auth(info),
    )
    answer = http.delete(url, auth=auth(info))
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "HEAD, GET, POST, PATCH, PUT, OPTIONS"
    assert answer.json() == {"errors": [{"status": "405", "title": "Method not allowed"}]}


def test_invalid_transitions_are_ignored(sandbox, info, http):
    url = dois_url(info, "10.5072/states")
    body = lambda event: {"data": {"attributes": {"event": event}}}  # noqa: E731
    http.put(
        url,
        json={"data": {"attributes": {**METADATA, "url": "https://example.org"}}},
        auth=auth(info),
    )
    assert (
        http.put(url, json=body("hide"), auth=auth(info)).json()["data"]["attributes"]["state"]
        == "draft"
    )
    assert (
        http.put(url, json=body("show"), auth=auth(info)).json()["data"]["attributes"]["state"]
        == "draft"
    )
    assert (
        http.put(url, json=body("register"), auth=auth(info)).json()["data"]["attributes"]["state"]
        == "registered"
    )
    assert (
        http.put(url, json=body("register"), auth=auth(info)).json()["data"]["attributes"]["state"]
        == "registered"
    )
    assert (
        http.put(url, json=body("show"), auth=auth(info)).json()["data"]["attributes"]["state"]
        == "findable"
    )
    assert (
        http.put(url, json=body("register"), auth=auth(info)).json()["data"]["attributes"]["state"]
        == "findable"
    )


def _publish(http, info, suffix, title, creator="Carberry, Josiah", state="publish"):
    metadata = {
        **METADATA,
        "titles": [{"title": title}],
        "creators": [{"name": creator}],
        "url": "https://example.org/" + suffix,
        "event": state,
    }
    answer = http.put(
        dois_url(info, f"10.5072/{suffix}"),
        json={"data": {"attributes": metadata}},
        auth=auth(info),
    )
    assert answer.status_code == 201, answer.text


def test_search_query_syntax_and_visibility(sandbox, info, http):
    _publish(http, info, "s1", "Ocean temperature records", "Smith, Anna")
    _publish(http, info, "s2", "Ocean salinity records", "Jones, Bo")
    _publish(http, info, "s3", "Glacier mass balance", "Smith, Carl", state="register")
    http.put(
        dois_url(info, "10.5072/s4"),
        json={"data": {"attributes": {"titles": [{"title": "Ocean draft"}]}}},
        auth=auth(info),
    )

    def total(query, **kwargs):
        answer = http.get(dois_url(info), params={"query": query}, **kwargs)
        assert answer.status_code == 200, answer.text
        return answer.json()["meta"]["total"]

    assert total("ocean") == 2  # anonymous: findable only
    assert total("ocean", auth=auth(info)) == 3  # the owner sees its registered and drafts too
    assert total("ocean AND salinity") == 1
    assert total("salinity OR glacier", auth=auth(info)) == 2
    assert total('titles.title:"temperature records"') == 1
    assert total("creators.name:smith", auth=auth(info)) == 2
    assert total("creators.name:smith AND NOT glacier", auth=auth(info)) == 1
    assert total("doi:10.5072/s2") == 1
    assert total("publicationYear:[2020 TO 2030]") == 2
    assert total("ocea*") == 2
    assert http.get(dois_url(info), params={"query": "(broken"}).status_code == 400


def test_cursor_paging_over_several_pages(sandbox, info, http):
    for index in range(7):
        _publish(http, info, f"page-{index}", f"Paged record {index}")
    seen, url, params, pages = [], dois_url(info), {"page[cursor]": "1", "page[size]": "3"}, 0
    while url:
        answer = http.get(url, params=params).json()
        pages += 1
        seen += [item["id"] for item in answer["data"]]
        assert answer["meta"]["total"] == 7
        url, params = answer["links"].get("next"), None
        if url:
            assert "page%5Bcursor%5D=" in url or "page[cursor]=" in url
    assert pages == 3
    assert seen == [f"10.5072/page-{index}" for index in range(7)]


def test_page_number_paging_and_size_cap(sandbox, info, http):
    for index in range(5):
        _publish(http, info, f"num-{index}", f"Numbered {index}")
    first = http.get(
        dois_url(info), params={"page[size]": 2, "page[number]": 1, "sort": "created"}
    ).json()
    assert [d["id"] for d in first["data"]] == ["10.5072/num-0", "10.5072/num-1"]
    assert first["meta"] == {**first["meta"], "total": 5, "totalPages": 3, "page": 1}
    assert "next" in first["links"]
    last = http.get(
        dois_url(info), params={"page[size]": 2, "page[number]": 3, "sort": "created"}
    ).json()
    assert [d["id"] for d in last["data"]] == ["10.5072/num-4"]
    assert "next" not in last["links"]
    capped = http.get(dois_url(info), params={"page[size]": 5000}).json()
    assert capped["meta"]["totalPages"] == 1
    assert (
        http.get(dois_url(info), params={"page[size]": 1000, "page[number]": 11}).status_code == 400
    )


def test_rate_limit_429_with_retry_after(sandbox, info, http):
    sandbox.set_limits(datacite={"limit": 3, "window_seconds": 60})
    statuses = [http.get(dois_url(info), auth=auth(info)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = http.get(dois_url(info), auth=auth(info))
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["errors"][0]["status"] == "429"
    # Another repository has its own window
    assert (
        http.get(dois_url(info), auth=("OTHER.REPO", "other-datacite-password")).status_code == 200
    )
    requests_seen = sandbox.state()["requests"]["datacite"]
    assert requests_seen["rate_limited"] == 2
    assert requests_seen["by_status"]["429"] == 2


DATACITE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<resource xmlns="http://datacite.org/schema/kernel-4" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://datacite.org/schema/kernel-4 http://schema.datacite.org/meta/kernel-4/metadata.xsd">
  <identifier identifierType="DOI">10.5072/XML-1</identifier>
  <creators><creator><creatorName nameType="Personal">Carberry, Josiah</creatorName>
    <givenName>Josiah</givenName><familyName>Carberry</familyName></creator></creators>
  <titles><title>Eating your own dog food</title></titles>
  <publisher>DataCite</publisher>
  <publicationYear>2016</publicationYear>
  <resourceType resourceTypeGeneral="Text">Blog post</resourceType>
</resource>
"""


def test_xml_metadata_is_decoded_into_attributes(sandbox, info, http):
    encoded = base64.b64encode(DATACITE_XML.encode()).decode()
    body = {
        "data": {
            "attributes": {"xml": encoded, "url": "https://example.org/xml", "event": "publish"}
        }
    }
    answer = http.put(dois_url(info, "10.5072/xml-1"), json=body, auth=auth(info))
    assert answer.status_code == 201, answer.text
    attributes = answer.json()["data"]["attributes"]
    assert attributes["titles"][0]["title"] == "Eating your own dog food"
    assert attributes["state"] == "findable"
    assert base64.b64decode(attributes["xml"]).decode() == DATACITE_XML
    stored = sandbox.state()["datacite"]["dois"][0]["metadata"]
    assert stored["publicationYear"] in ("2016", 2016)
    assert stored["types"]["resourceTypeGeneral"] == "Text"


def test_invalid_xml_gets_the_xsd_message(sandbox, info, http):
    pytest.importorskip("worker.reference")
    from worker.reference import xsd

    if xsd("datacite") is None:
        pytest.skip("DataCite XSD not at hand (../shared/reference)")
    broken = DATACITE_XML.replace("<publicationYear>2016</publicationYear>", "")
    body = {
        "data": {
            "attributes": {
                "xml": base64.b64encode(broken.encode()).decode(),
                "url": "https://example.org/x",
                "event": "publish",
            }
        }
    }
    answer = http.put(dois_url(info, "10.5072/xml-2"), json=body, auth=auth(info))
    assert answer.status_code == 422
    error = answer.json()["errors"][0]
    assert error["uid"] == "10.5072/xml-2"
    assert error["title"].startswith("DOI 10.5072/xml-2: ")
    assert "publicationYear" in error["title"]
    assert "at line" in error["title"]
    # The same XML is accepted as a draft
    draft = {"data": {"attributes": {"xml": body["data"]["attributes"]["xml"]}}}
    assert http.put(dois_url(info, "10.5072/xml-2"), json=draft, auth=auth(info)).status_code == 201
