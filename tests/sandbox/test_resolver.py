"""doi.org resolver and content negotiation, driven by plain requests with every format."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from lxml import etree

from tests.sandbox.deposits import article, deposit
from tests.sandbox.test_crossref_deposit import poll, upload
from worker.reference import xsd
from worker.sandbox.seeds import HASH_DOI, SICI_DOI

DATACITE_ATTRIBUTES = {
    "creators": [
        {
            "name": "Carberry, Josiah",
            "nameType": "Personal",
            "givenName": "Josiah",
            "familyName": "Carberry",
        }
    ],
    "titles": [{"title": "Negotiated dataset"}],
    "publisher": "pidsync sandbox",
    "publicationYear": "2024",
    "types": {"resourceTypeGeneral": "Dataset"},
    "url": "https://example.org/landing/negotiated",
}


@pytest.fixture
def registered(sandbox, info, http):
    """A findable DataCite DOI and a deposited Crossref DOI."""
    auth = (info["datacite_repository_id"], info["datacite_password"])
    body = {"data": {"attributes": {**DATACITE_ATTRIBUTES, "event": "publish"}}}
    assert (
        http.put(info["datacite_api_url"] + "/dois/10.5072/neg-1", json=body, auth=auth).status_code
        == 201
    )
    draft = {"data": {"attributes": {"titles": [{"title": "draft"}]}}}
    assert (
        http.put(
            info["datacite_api_url"] + "/dois/10.5072/neg-draft", json=draft, auth=auth
        ).status_code
        == 201
    )
    upload(
        http,
        info,
        deposit(
            article("10.32013/neg-2", "Negotiated article", url="https://example.org/landing/neg-2")
        ),
        "neg.xml",
    )
    poll(http, info, "neg.xml")
    return info


def resolve(http, info, doi, accept=None, **kwargs):
    headers = {"Accept": accept} if accept is not None else {}
    return http.get(f"{info['doi_resolver_url']}/{quote(doi, safe='/')}", headers=headers, **kwargs)


@pytest.mark.parametrize(
    "accept", [None, "text/html", "*/*", "text/html,application/xhtml+xml,*/*;q=0.8"]
)
def test_landing_page_redirects(registered, http, accept):
    answer = resolve(http, registered, "10.5072/neg-1", accept, allow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "https://example.org/landing/negotiated"
    crossref = resolve(http, registered, "10.32013/neg-2", accept, allow_redirects=False)
    assert crossref.headers["Location"] == "https://example.org/landing/neg-2"


def test_unknown_doi_drafts_and_unacceptable_types(registered, http):
    assert resolve(http, registered, "10.5072/never").status_code == 404
    assert resolve(http, registered, "10.5072/neg-draft", allow_redirects=False).status_code == 404
    assert (
        resolve(
            http, registered, "10.5072/neg-1", "application/vnd.crossref.unixref+xml"
        ).status_code
        == 406
    )
    assert (
        resolve(http, registered, "10.32013/neg-2", "application/vnd.schemaorg.ld+json").status_code
        == 406
    )
    assert resolve(http, registered, "10.32013/neg-2", "image/png").status_code == 406


@pytest.mark.parametrize(
    ("doi", "accept", "check"),
    [
        (
            "10.5072/neg-1",
            "application/vnd.citationstyles.csl+json",
            lambda t: json.loads(t)["title"] == "Negotiated dataset",
        ),
        (
            "10.32013/neg-2",
            "application/vnd.citationstyles.csl+json",
            lambda t: json.loads(t)["DOI"] == "10.32013/neg-2",
        ),
        (
            "10.5072/neg-1",
            "application/x-bibtex",
            lambda t: t.startswith("@") and "Negotiated dataset" in t,
        ),
        (
            "10.32013/neg-2",
            "application/x-bibtex",
            lambda t: t.startswith("@article") and "Negotiated article" in t,
        ),
        (
            "10.5072/neg-1",
            "application/x-research-info-systems",
            lambda t: t.startswith("TY  - DATA"),
        ),
        (
            "10.32013/neg-2",
            "application/x-research-info-systems",
            lambda t: t.startswith("TY  - JOUR"),
        ),
        (
            "10.5072/neg-1",
            "application/vnd.datacite.datacite+xml",
            lambda t: "Negotiated dataset" in t and "kernel-4" in t,
        ),
        (
            "10.32013/neg-2",
            "application/vnd.crossref.unixref+xml",
            lambda t: etree.fromstring(t.encode()).tag == "doi_records",
        ),
        (
            "10.5072/neg-1",
            "application/rdf+xml",
            lambda t: "Negotiated dataset" in t and "rdf:RDF" in t,
        ),
        ("10.32013/neg-2", "text/turtle", lambda t: "dct:title" in t and "Negotiated article" in t),
        (
            "10.5072/neg-1",
            "application/vnd.schemaorg.ld+json",
            lambda t: json.loads(t)["@type"] == "Dataset",
        ),
    ],
)
def test_every_format(registered, http, doi, accept, check):
    answer = resolve(http, registered, doi, accept)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].split(";")[0] == accept
    assert check(answer.text)


def test_redirect_goes_to_the_agency_service(registered, http):
    datacite = resolve(
        http, registered, "10.5072/neg-1", "application/x-bibtex", allow_redirects=False
    )
    assert datacite.status_code == 302
    assert datacite.headers["Location"].endswith("/datacite-cn/10.5072/neg-1")
    crossref = resolve(
        http, registered, "10.32013/neg-2", "application/x-bibtex", allow_redirects=False
    )
    assert crossref.headers["Location"].endswith("/crossref-api/works/10.32013/neg-2/transform")
    # The agency services answer text/html with 303 to the landing page, and path-style types
    service = http.get(
        datacite.headers["Location"], headers={"Accept": "text/html"}, allow_redirects=False
    )
    assert (service.status_code, service.headers["Location"]) == (
        303,
        "https://example.org/landing/negotiated",
    )
    path_style = http.get(
        registered["crossref_api_url"] + "/works/10.32013/neg-2/transform/application/x-bibtex"
    )
    assert path_style.text.startswith("@article")


def test_datacite_xml_validates_against_the_xsd(registered, http):
    schema = xsd("datacite")
    if schema is None:
        pytest.skip("DataCite XSD not at hand (../shared/reference)")
    answer = resolve(http, registered, "10.5072/neg-1", "application/vnd.datacite.datacite+xml")
    schema.assertValid(etree.fromstring(answer.content))


def test_q_values_and_order(registered, http):
    best = resolve(
        http,
        registered,
        "10.5072/neg-1",
        "application/x-bibtex;q=0.5, application/x-research-info-systems;q=0.9",
    )
    assert best.text.startswith("TY  -")
    first = resolve(
        http,
        registered,
        "10.5072/neg-1",
        "application/x-research-info-systems, application/x-bibtex",
    )
    assert first.text.startswith("TY  -")
    fallback = resolve(
        http,
        registered,
        "10.32013/neg-2",
        "application/vnd.datacite.datacite+xml, application/x-bibtex;q=0.1",
    )
    assert fallback.text.startswith("@article")
    refused = resolve(
        http, registered, "10.5072/neg-1", "application/x-bibtex;q=0", allow_redirects=False
    )
    assert refused.status_code == 406


@pytest.mark.parametrize("style", ["apa", "harvard", "ieee", "chicago-does-not-exist"])
def test_formatted_citations(registered, http, style):
    answer = resolve(
        http, registered, "10.32013/neg-2", f"text/x-bibliography; style={style}; locale=en-US"
    )
    assert answer.status_code == 200
    text = answer.text.strip()
    assert "Negotiated article" in text
    assert "2024" in text
    assert "Carberry" in text
    if style == "ieee":
        assert text.startswith("J. Carberry, “Negotiated article,”")
    elif style == "harvard":
        assert text.startswith("Carberry, J. (2024) ‘Negotiated article’")  # noqa: RUF001 - Harvard quotes
    else:  # apa, and the fallback for unknown styles
        assert text.startswith("Carberry, J. (2024). Negotiated article.")
        assert text.endswith("https://doi.org/10.32013/neg-2")


def test_special_character_dois(registered, http):
    for doi, landing in (
        (SICI_DOI, "https://example.org/landing/sici-seed"),
        (HASH_DOI, "https://example.org/landing/hash-seed"),
    ):
        answer = http.get(
            f"{registered['doi_resolver_url']}/{quote(doi, safe='/')}", allow_redirects=False
        )
        assert (answer.status_code, answer.headers["Location"]) == (302, landing)
        csl = resolve(http, registered, doi, "application/vnd.citationstyles.csl+json")
        assert csl.status_code == 200, csl.url
        assert json.loads(csl.text)["DOI"] == doi.lower()
    # The SICI DOI's own characters ( ) : < > ; need no encoding but < > must be sent encoded
    raw = http.get(
        f"{registered['doi_resolver_url']}/10.1002/(SICI)1097-4636(199812)43:4%3C342::AID-JBM3%3E3.0.CO;2-R",
        allow_redirects=False,
    )
    assert raw.status_code == 302


def test_handle_api_and_doi_ra(registered, http):
    base = registered["doi_resolver_url"]
    handle = http.get(f"{base}/api/handles/10.5072/neg-1").json()
    assert handle["responseCode"] == 1
    assert handle["handle"] == "10.5072/neg-1"
    url_value = next(v for v in handle["values"] if v["type"] == "URL")
    assert url_value["data"] == {
        "format": "string",
        "value": "https://example.org/landing/negotiated",
    }
    only_url = http.get(f"{base}/api/handles/10.5072/neg-1", params={"type": "URL"}).json()
    assert [v["type"] for v in only_url["values"]] == ["URL"]
    missing = http.get(f"{base}/api/handles/10.5072/none")
    assert (missing.status_code, missing.json()["responseCode"]) == (404, 100)
    assert http.get(f"{base}/doiRA/10.32013/neg-2").json() == [
        {"DOI": "10.32013/neg-2", "RA": "Crossref"}
    ]
    assert http.get(f"{base}/doiRA/10.5072/neg-1").json() == [
        {"DOI": "10.5072/neg-1", "RA": "DataCite"}
    ]
    assert http.get(f"{base}/doiRA/10.5072/none").json() == [
        {"DOI": "10.5072/none", "status": "DOI does not exist"}
    ]
    agency = http.get(registered["crossref_api_url"] + "/works/10.5072/neg-1/agency").json()
    assert agency["message"]["agency"] == {"id": "datacite", "label": "DataCite"}
