"""ORCID's XML answers (record_3.0 XSDs), built from the JSON dicts of ``orcid.render``.

Elements come in each XSD's order, namespaces with ORCID's prefixes, and the XML declaration
as JAXB writes it. Reading request bodies is ``orcid.xmlread``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lxml import etree

from worker.sandbox.orcid.errors import OrcidApiError

NS = {
    "common": "http://www.orcid.org/ns/common",
    "work": "http://www.orcid.org/ns/work",
    "error": "http://www.orcid.org/ns/error",
    "bulk": "http://www.orcid.org/ns/bulk",
    "activities": "http://www.orcid.org/ns/activities",
    "search": "http://www.orcid.org/ns/search",
    "expanded-search": "http://www.orcid.org/ns/expanded-search",
    "notification": "http://www.orcid.org/ns/notification",
    "record": "http://www.orcid.org/ns/record",
    "person": "http://www.orcid.org/ns/person",
    "personal-details": "http://www.orcid.org/ns/personal-details",
    "email": "http://www.orcid.org/ns/email",
}
Element = etree._Element  # noqa: SLF001 - lxml's public element type has this name


def q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _el(parent: Element, prefix: str, name: str, text: Any = None) -> Element:
    node = etree.SubElement(parent, q(prefix, name))
    if text is not None:
        node.text = str(text)
    return node


def _root(prefix: str, name: str, *prefixes: str) -> Element:
    nsmap = {p: NS[p] for p in (prefix, *prefixes)}
    return etree.Element(q(prefix, name), nsmap=nsmap)


_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _serialise(root: Element) -> bytes:
    """JAXB's spelling: the declaration in double quotes, then the document."""
    return _DECLARATION + etree.tostring(root, encoding="UTF-8")


def _datetime(holder: dict[str, Any] | None) -> str | None:
    if holder is None:
        return None
    moment = dt.datetime.fromtimestamp(holder["value"] / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _held_el(parent: Element, prefix: str, name: str, holder: dict[str, Any] | None) -> None:
    if holder is not None and holder.get("value") is not None:
        _el(parent, prefix, name, holder["value"])


def _summary_head(node: Element, item: dict[str, Any]) -> None:
    node.set("put-code", str(item["put-code"]))
    node.set("path", item["path"])
    node.set("visibility", item["visibility"])
    _el(node, "common", "created-date", _datetime(item["created-date"]))
    _el(node, "common", "last-modified-date", _datetime(item["last-modified-date"]))
    src = _el(node, "common", "source")
    client = _el(src, "common", "source-client-id")
    for part in ("uri", "path", "host"):
        _el(client, "common", part, item["source"]["source-client-id"][part])
    _el(src, "common", "source-name", item["source"]["source-name"]["value"])


def _title(parent: Element, title: dict[str, Any]) -> None:
    node = _el(parent, "work", "title")
    _el(node, "common", "title", title["title"]["value"])
    _held_el(node, "common", "subtitle", title.get("subtitle"))
    translated = title.get("translated-title")
    if translated is not None and translated.get("value"):
        sub = _el(node, "common", "translated-title", translated["value"])
        sub.set("language-code", translated.get("language-code") or "")


def _date(parent: Element, date: dict[str, Any] | None) -> None:
    if date is None:
        return
    node = _el(parent, "common", "publication-date")
    for part in ("year", "month", "day"):
        _held_el(node, "common", part, date.get(part))


def _external_ids(parent: Element, holder: dict[str, Any] | None) -> None:
    node = _el(parent, "common", "external-ids")
    for ext in (holder or {}).get("external-id") or []:
        item = _el(node, "common", "external-id")
        _el(item, "common", "external-id-type", ext["external-id-type"])
        _el(item, "common", "external-id-value", ext["external-id-value"])
        normalised = ext.get("external-id-normalized")
        if normalised is not None:
            _el(item, "common", "external-id-normalized", normalised["value"]).set(
                "transient", "true"
            )
        _held_el(item, "common", "external-id-url", ext.get("external-id-url"))
        if ext.get("external-id-relationship"):
            _el(item, "common", "external-id-relationship", ext["external-id-relationship"])


def _work_element(parent: Element | None, item: dict[str, Any]) -> Element:
    if parent is None:
        node = _root("work", "work", "common")
    else:
        node = _el(parent, "work", "work")
    _summary_head(node, item)
    _title(node, item["title"])
    _held_el(node, "work", "journal-title", item["journal-title"])
    if item["short-description"]:
        _el(node, "work", "short-description", item["short-description"])
    if item["citation"] is not None:
        citation = _el(node, "work", "citation")
        _el(citation, "work", "citation-type", item["citation"]["citation-type"])
        _el(citation, "work", "citation-value", item["citation"]["citation-value"])
    _el(node, "work", "type", item["type"])
    _date(node, item["publication-date"])
    _external_ids(node, item["external-ids"])
    _held_el(node, "common", "url", item["url"])
    contributors = _el(node, "work", "contributors")
    for con in item["contributors"]["contributor"]:
        _contributor_element(contributors, con)
    if item["language-code"]:
        _el(node, "common", "language-code", item["language-code"])
    _held_el(node, "common", "country", item["country"])
    return node


def _contributor_element(parent: Element, con: dict[str, Any]) -> None:
    node = _el(parent, "work", "contributor")
    orcid = con.get("contributor-orcid")
    if orcid is not None:
        holder = _el(node, "common", "contributor-orcid")
        for part in ("uri", "path", "host"):
            if orcid.get(part):
                _el(holder, "common", part, orcid[part])
    _held_el(node, "work", "credit-name", con.get("credit-name"))
    attrs = con.get("contributor-attributes")
    if attrs is not None:
        holder = _el(node, "work", "contributor-attributes")
        if attrs.get("contributor-sequence"):
            _el(holder, "work", "contributor-sequence", attrs["contributor-sequence"])
        if attrs.get("contributor-role"):
            _el(holder, "work", "contributor-role", attrs["contributor-role"])


def work(item: dict[str, Any]) -> bytes:
    """A full work (the dict of ``render.full_work``) as ``work:work``."""
    return _serialise(_work_element(None, item))


def error(err: OrcidApiError) -> bytes:
    root = _root("error", "error")
    body = err.body()
    for key in ("response-code", "developer-message", "user-message", "error-code", "more-info"):
        _el(root, "error", key, body[key])
    return _serialise(root)


def _error_into(parent: Element, body: dict[str, Any]) -> None:
    node = _el(parent, "error", "error")
    for key in ("response-code", "developer-message", "user-message", "error-code", "more-info"):
        _el(node, "error", key, body[key])


def bulk(items: list[dict[str, Any]]) -> bytes:
    """``{"bulk": [{"work": …} | {"error": …}]}`` items as ``bulk:bulk``."""
    root = _root("bulk", "bulk", "work", "common", "error")
    for item in items:
        if "work" in item:
            _work_element(root, item["work"])
        else:
            _error_into(root, item["error"])
    return _serialise(root)


def _works_element(parent: Element | None, summary: dict[str, Any]) -> Element:
    if parent is None:
        root = _root("activities", "works", "common", "work")
    else:
        root = _el(parent, "activities", "works")
    root.set("path", summary["path"])
    if summary["last-modified-date"] is not None:
        _el(root, "common", "last-modified-date", _datetime(summary["last-modified-date"]))
    for group in summary["group"]:
        node = _el(root, "activities", "group")
        _el(node, "common", "last-modified-date", _datetime(group["last-modified-date"]))
        _external_ids(node, group["external-ids"])
        for item in group["work-summary"]:
            ws = _el(node, "work", "work-summary")
            ws.set("display-index", item["display-index"])
            _summary_head(ws, item)
            _title(ws, item["title"])
            _external_ids(ws, item["external-ids"])
            _held_el(ws, "common", "url", item["url"])
            _el(ws, "work", "type", item["type"])
            _date(ws, item["publication-date"])
            _held_el(ws, "work", "journal-title", item["journal-title"])
    return root


def works(summary: dict[str, Any]) -> bytes:
    """The ``render.works_summary`` dict as ``activities:works``."""
    return _serialise(_works_element(None, summary))


def _person_element(parent: Element | None, person: dict[str, Any]) -> Element:
    if parent is None:
        node = _root("person", "person", "common", "personal-details", "email")
    else:
        node = _el(parent, "person", "person")
    node.set("path", person["path"])
    name = person["name"]
    holder = _el(node, "person", "name")
    holder.set("visibility", name["visibility"])
    holder.set("path", name["path"])
    _held_el(holder, "personal-details", "given-names", name["given-names"])
    _held_el(holder, "personal-details", "family-name", name["family-name"])
    emails = _el(node, "email", "emails")
    emails.set("path", person["emails"]["path"])
    for item in person["emails"]["email"]:
        email = _el(emails, "email", "email")
        email.set("visibility", item["visibility"])
        email.set("verified", "true")
        email.set("primary", "true")
        _el(email, "email", "email", item["email"])
    return node


def person(data: dict[str, Any]) -> bytes:
    """The person section: name and e-mail addresses."""
    return _serialise(_person_element(None, data))


def record(data: dict[str, Any]) -> bytes:
    """The record: iD, person (name, e-mails) and the works of the activities summary."""
    root = _root(
        "record", "record", "common", "person", "personal-details", "email", "activities", "work"
    )
    root.set("path", data["path"])
    identifier = _el(root, "common", "orcid-identifier")
    for part in ("uri", "path", "host"):
        _el(identifier, "common", part, data["orcid-identifier"][part])
    _person_element(root, data["person"])
    activities = _el(root, "activities", "activities-summary")
    activities.set("path", data["activities-summary"]["path"])
    _works_element(activities, data["activities-summary"]["works"])
    return _serialise(root)


def search(result: dict[str, Any]) -> bytes:
    root = _root("search", "search", "common")
    root.set("num-found", str(result["num-found"]))
    for hit in result["result"] or []:
        node = _el(_el(root, "search", "result"), "common", "orcid-identifier")
        for part in ("uri", "path", "host"):
            _el(node, "common", part, hit["orcid-identifier"][part])
    return _serialise(root)


def expanded_search(result: dict[str, Any]) -> bytes:
    root = _root("expanded-search", "expanded-search")
    root.set("num-found", str(result["num-found"]))
    for hit in result["expanded-result"] or []:
        node = _el(root, "expanded-search", "expanded-result")
        _el(node, "expanded-search", "orcid-id", hit["orcid-id"])
        for key in ("given-names", "family-names", "credit-name"):
            if hit.get(key):
                _el(node, "expanded-search", key, hit[key])
        for key in ("other-name", "email", "institution-name"):
            for value in hit.get(key) or []:
                _el(node, "expanded-search", key, value)
    return _serialise(root)
