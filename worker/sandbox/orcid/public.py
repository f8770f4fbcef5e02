"""Record and person reads: ``GET /v3.0/{orcid}/record`` and ``/person`` on both API hosts.

The sandbox's records hold a name, one e-mail address, one affiliation (an employment, with
its ROR id) and works, so those are what these answers carry; every other section is present
and empty, as on a sparse ORCID record. XML answers carry the iD, the person and the works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from worker.sandbox.orcid import render, xml
from worker.sandbox.orcid.api import Caller, endpoint, payload

if TYPE_CHECKING:
    from worker.sandbox.orcid.service import OrcidService
    from worker.sandbox.orcid.store import Record


def _ms(value: int | None) -> dict[str, int] | None:
    return None if value is None else {"value": value}


def _held(value: str | None) -> dict[str, str] | None:
    return None if value is None else {"value": value}


def person(record: Record) -> dict[str, Any]:
    orcid, created, modified = record.orcid, record.created_ms, record.modified_ms
    emails = []
    if record.email:
        emails.append(
            {
                "created-date": _ms(created),
                "last-modified-date": _ms(modified),
                "source": None,
                "email": record.email,
                "path": None,
                "visibility": "public",
                "verified": True,
                "primary": True,
                "put-code": None,
            }
        )

    def empty(key: str, item: str) -> dict[str, Any]:
        return {"last-modified-date": None, item: [], "path": f"/{orcid}/{key}"}

    return {
        "last-modified-date": _ms(modified),
        "name": {
            "created-date": _ms(created),
            "last-modified-date": _ms(modified),
            "given-names": _held(record.given_names),
            "family-name": _held(record.family_name),
            "credit-name": None,
            "source": None,
            "visibility": "public",
            "path": f"/{orcid}/personal-details",
        },
        "other-names": empty("other-names", "other-name"),
        "biography": None,
        "researcher-urls": empty("researcher-urls", "researcher-url"),
        "emails": {
            "last-modified-date": _ms(modified) if emails else None,
            "email": emails,
            "path": f"/{orcid}/email",
        },
        "addresses": empty("address", "address"),
        "keywords": empty("keywords", "keyword"),
        "external-identifiers": empty("external-identifiers", "external-identifier"),
        "path": f"/{orcid}/person",
    }


def _employments(record: Record) -> dict[str, Any]:
    orcid = record.orcid
    groups: list[dict[str, Any]] = []
    if record.affiliation:
        ror = record.ror
        summary = {
            "created-date": _ms(record.created_ms),
            "last-modified-date": _ms(record.created_ms),
            "source": None,
            "put-code": 1,
            "department-name": None,
            "role-title": None,
            "start-date": None,
            "end-date": None,
            "organization": {
                "name": record.affiliation,
                "address": {"city": None, "region": None, "country": None},
                "disambiguated-organization": None
                if not ror
                else {"disambiguated-organization-identifier": ror, "disambiguation-source": "ROR"},
            },
            "url": None,
            "external-ids": None,
            "display-index": "0",
            "visibility": "public",
            "path": f"/{orcid}/employment/1",
        }
        groups.append(
            {
                "last-modified-date": _ms(record.created_ms),
                "external-ids": {"external-id": []},
                "summaries": [{"employment-summary": summary}],
            }
        )
    return {
        "last-modified-date": _ms(record.created_ms) if groups else None,
        "affiliation-group": groups,
        "path": f"/{orcid}/employments",
    }


def full_record(record: Record, works: dict[str, Any], host: str) -> dict[str, Any]:
    orcid = record.orcid

    def empty(key: str, item: str = "affiliation-group") -> dict[str, Any]:
        return {"last-modified-date": None, item: [], "path": f"/{orcid}/{key}"}

    return {
        "orcid-identifier": render.orcid_identifier(orcid, host),
        "preferences": {"locale": "en"},
        "history": {
            "creation-method": "API",
            "completion-date": None,
            "submission-date": _ms(record.created_ms),
            "last-modified-date": _ms(record.modified_ms),
            "claimed": True,
            "source": None,
            "deactivation-date": None,
            "verified-email": True,
            "verified-primary-email": True,
        },
        "person": person(record),
        "activities-summary": {
            "last-modified-date": works["last-modified-date"],
            "distinctions": empty("distinctions"),
            "educations": empty("educations"),
            "employments": _employments(record),
            "fundings": empty("fundings", "group"),
            "invited-positions": empty("invited-positions"),
            "memberships": empty("memberships"),
            "peer-reviews": empty("peer-reviews", "group"),
            "qualifications": empty("qualifications"),
            "research-resources": empty("research-resources", "group"),
            "services": empty("services"),
            "works": works,
            "path": f"/{orcid}/activities",
        },
        "path": f"/{orcid}",
    }


class RecordApi:
    def __init__(self, service: OrcidService) -> None:
        self.service = service

    def routes(self) -> list[web.RouteDef]:
        routes = []
        for host, member in (("/orcid-api", True), ("/orcid-pub", False)):
            wrap = endpoint(self.service, member=member)
            base = host + "/v3.0/{orcid}"
            handlers = (
                (self.record_member, self.person_member)
                if member
                else (
                    self.record_public,
                    self.person_public,
                )
            )
            routes.append(web.get(base + "/record", wrap(handlers[0])))
            routes.append(web.get(base, wrap(handlers[0])))
            routes.append(web.get(base + "/person", wrap(handlers[1])))
        return routes

    async def _record(self, request: web.Request, caller: Caller, *, member: bool) -> web.Response:
        works_api = self.service.works
        record = works_api.record_for(caller, request.match_info["orcid"], member=member)
        shown = [w for w in record.works.values() if works_api.visible(w, caller, member=member)]
        host = self.service.settings.host
        works = render.works_summary(record.orcid, shown, host)
        data = full_record(record, works, host)
        # The sections written through the API (the seeded employment stays first).
        summary = data["activities-summary"]
        for key, value in self.service.sections.activities(record, caller, member=member).items():
            if key == "employments":
                value["affiliation-group"] = (
                    summary[key]["affiliation-group"] + value["affiliation-group"]
                )
            summary[key] = value
        return payload(caller, data, xml.record)

    async def _person(self, request: web.Request, caller: Caller, *, member: bool) -> web.Response:
        record = self.service.works.record_for(caller, request.match_info["orcid"], member=member)
        return payload(caller, person(record), xml.person)

    async def record_member(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        return await self._record(request, caller, member=True)

    async def record_public(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        return await self._record(request, caller, member=False)

    async def person_member(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        return await self._person(request, caller, member=True)

    async def person_public(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        return await self._person(request, caller, member=False)
