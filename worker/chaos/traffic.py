"""What the emitting systems and the researchers do during a chaos run.

Two tenants (intake clients, each owning its own source) send every event type pidsync takes
from a CRIS: works (published, several updates, some withdrawn), affiliations and fundings (the
same), researchers' grants (``researcher.authorized`` with a token the researcher really
consented to at the sandbox's ORCID: before their works, during, after, or never) and
revocations. Some events are sent again (duplicates), some newest-first (out of order), some
at once from threads for the same work or the same researcher; the second tenant now and then
tries to write the first one's items (it must be refused). The researchers act at ORCID
themselves: they revoke their tokens and delete works and activities.

Every choice comes from ``random.Random(seed)``, so a seed replays the same traffic in the
same order (the timing of the system under test is not the traffic's to replay). The traffic
keeps what was accepted, so the checks (:mod:`worker.chaos.invariants`) know the newest version
of each item and which researchers hold a usable grant at the end.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from worker.client import PidsyncClient, PidsyncUnreachable

#: What a researcher consents to: pidsync may write to the record and read it.
ORCID_SCOPE = "/activities/update /read-limited"
#: The kinds of item the traffic asserts, and the ORCID section each lands in.
SECTIONS = {"work": "works", "affiliation": "employment", "funding": "funding"}
#: Answers worth sending the same event again for: the web or its database is down or busy.
_RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})

#: Each tenant's organisation (its affiliations name none, so this one is asserted).
_ORGANIZATIONS = (
    {"name": "Chaos University A", "city": "Wellington", "country": "NZ",
     "ror": "https://ror.org/02mhbdp94"},
    {"name": "Chaos University B", "city": "Auckland", "country": "NZ",
     "ror": "https://ror.org/05gq02987"},
)  # fmt: skip
_FUNDER = {"name": "Marsden Fund", "country": "NZ", "funder_id": "10.13039/501100009193"}


class TrafficError(RuntimeError):
    """The sandbox's control API refused what a researcher does (not the system under test)."""


@dataclass(frozen=True)
class Tenant:
    """One intake client: its id, its secret, and the one source it owns."""

    client_id: str
    secret: str
    source: str

    def __repr__(self) -> str:  # never the secret
        return f"Tenant({self.client_id!r}, {self.source!r})"


@dataclass
class Target:
    """The running system: its intake, the sandbox's control API, its database and broker."""

    intake_url: str
    control_url: str
    database_url: str
    tenants: list[Tenant]
    #: The broker's URL (redis:// or amqp://): quiescence reads its queues; "" = not read.
    broker_url: str = ""


def two_tenants() -> list[Tenant]:
    """The chaos run's two intake clients, with fresh secrets."""
    return [
        Tenant("cris-a", secrets.token_hex(24), "https://cris-a.chaos.example.edu"),
        Tenant("cris-b", secrets.token_hex(24), "https://cris-b.chaos.example.edu"),
    ]


def intake_clients(tenants: list[Tenant]) -> str:
    """``PIDSYNC_INTAKE_CLIENTS`` for ``tenants``: each owns its source only, and its own
    organisation (named on the affiliations it asserts)."""
    return json.dumps(
        [
            {
                "id": t.client_id,
                "secrets": [t.secret],
                "sources": [t.source],
                "organization": _ORGANIZATIONS[n % len(_ORGANIZATIONS)],
            }
            for n, t in enumerate(tenants)
        ]
    )


# --- the plan ----------------------------------------------------------------------------------


@dataclass
class Researcher:
    """A researcher of one tenant: their ORCID record (made at the first step) and grant."""

    tenant: int
    number: int
    orcid: str = ""
    #: The access token of the last grant pidsync accepted; usable while not revoked since.
    token: str = ""
    usable: bool = False
    grants: int = 0


@dataclass
class Item:
    """A work, affiliation or funding of one tenant: ``versions`` versions, then perhaps a
    withdrawal (the version after the last)."""

    tenant: int
    kind: str
    key: str
    researchers: tuple[int, ...]
    versions: int
    withdrawn: bool
    datacite: bool = False


@dataclass(frozen=True)
class Planned:
    """One event to send: an item's version (``version`` > item.versions = its withdrawal),
    a grant or revocation of a researcher, or tenant B's attempt at tenant A's item."""

    what: str  # "item" | "grant" | "revoke" | "cross"
    tenant: int
    item: Item | None = None
    version: int = 0
    researcher: int = -1
    number: int = 0
    duplicate: bool = False
    out_of_order: bool = False

    def describe(self) -> str:
        """``tenant<N> <type> <what>`` and its flags: the plan in words (no iD, no token)."""
        if self.what == "grant":
            words = f"researcher.authorized r{self.researcher}#{self.number}"
        elif self.what == "revoke":
            words = f"researcher.revoked r{self.researcher}"
        elif self.item is None:
            words = self.what
        elif self.what == "cross":
            words = f"{self.item.kind}.updated {self.item.key} cross"
        elif self.version > self.item.versions:
            words = f"{self.item.kind}.withdrawn {self.item.key}"
        else:
            verb = "published" if self.version == 1 else "updated"
            words = f"{self.item.kind}.{verb} {self.item.key} v{self.version}"
        flags = [f for f, on in (("duplicate", self.duplicate), ("out-of-order",
                 self.out_of_order)) if on]  # fmt: skip
        return " ".join([f"tenant{self.tenant}", words, *flags])


@dataclass(frozen=True)
class Sent:
    """An event pidsync accepted (or acknowledged as a duplicate)."""

    tenant: int
    event_id: str
    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Expected:
    """What the newest accepted version of an item asks the final state to be."""

    tenant: Tenant
    kind: str
    key: str
    version: int
    withdrawn: bool
    #: Text only the newest version carries (its title or role); "" when withdrawn.
    marker: str
    orcids: tuple[str, ...]
    datacite: bool
    #: False when an event of the item as new as this one was never answered: not checked.
    confirmed: bool

    @property
    def section(self) -> str:
        return SECTIONS[self.kind]

    @property
    def source_work_id(self) -> str:
        """The ``self`` id pidsync writes on ORCID for it (DESIGN §7)."""
        return f"{self.tenant.source}:{self.key}"


def _marker(kind: str, key: str, version: int) -> str:
    noun = {"work": "dataset", "affiliation": "role", "funding": "grant"}[kind]
    return f"Chaos {noun} {key} (version {version})"


class Traffic:
    """The seeded traffic against ``target``: about ``events`` events in all."""

    def __init__(
        self, target: Target, *, events: int, seed: int, send_timeout: float = 120.0
    ) -> None:
        if len(target.tenants) < 2:
            raise ValueError("the chaos traffic needs two tenants")
        self.target = target
        self.send_timeout = send_timeout
        self._rng = random.Random(seed)  # noqa: S311 - a replayable schedule, not a secret
        self._lock = threading.Lock()
        self._http = requests.Session()
        self._clients = [PidsyncClient(target.intake_url, t.client_id, t.secret)
                         for t in target.tenants[:2]]  # fmt: skip
        self.sent = 0
        self.duplicates = 0
        self.out_of_order = 0
        self.concurrent = 0
        self.rejected = 0
        self.unconfirmed = 0
        self.cross_tenant_refused = 0
        self.cross_tenant_accepted = 0
        self.researcher_actions_done = 0
        #: Unexpected refusals of the traffic's events, and tenant B's writes that got through.
        self.rejections: list[str] = []
        self.cross_tenant_writes: list[str] = []
        self.accepted: list[Sent] = []
        self._unanswered: list[Planned] = []
        #: (ORCID iD, ``self`` source-work-id) of what researchers deleted at ORCID themselves.
        self.deleted_at_orcid: set[tuple[str, str]] = set()
        self._bodies: dict[tuple[int, str], dict[str, Any]] = {}
        self._started = False
        self._regrants = 0
        self.researchers: list[Researcher] = []
        self.items: list[Item] = []
        self._queue: list[list[Planned]] = self._plan(max(events, 10))
        self._actions = self._plan_actions(max(events, 10))

    # -- planning (pure: the seed decides) ------------------------------------------------------

    def _plan(self, events: int) -> list[list[Planned]]:
        rng = self._rng
        per_tenant = max(2, min(12, events // 30))
        for tenant in (0, 1):
            self.researchers += [Researcher(tenant, n) for n in range(per_tenant)]
        sequences: list[list[list[Planned]]] = []
        planned = 0
        while planned < events * 0.75:
            item = self._new_item(len(self.items), per_tenant)
            self.items.append(item)
            sequence = self._item_sends(item)
            sequences.append(sequence)
            planned += sum(len(send) for send in sequence)
        merged: list[list[Planned]] = []
        while sequences:
            picked = sequences[rng.randrange(len(sequences))]
            merged.append(picked.pop(0))
            if not picked:
                sequences.remove(picked)
        self._place_grants(merged)
        self._place_duplicates(merged)
        for n in range(max(1, events // 100)):
            victim = rng.choice([i for i in self.items if i.tenant == 0])
            merged.insert(rng.randrange(len(merged) + 1), [Planned("cross", 1, victim, number=n)])
        return merged

    def _new_item(self, n: int, per_tenant: int) -> Item:
        rng = self._rng
        tenant = n % 2
        kind = rng.choices(("work", "affiliation", "funding"), (6, 2, 2))[0]
        count = 1 if kind == "affiliation" else rng.choice((1, 1, 2))
        people = tuple(sorted(rng.sample(range(per_tenant), count)))
        versions = rng.choice((1, 2, 2, 3, 3, 4))
        return Item(
            tenant=tenant,
            kind=kind,
            key=f"{kind[0]}{n}",
            researchers=people,
            versions=versions,
            withdrawn=rng.random() < 0.25,
            datacite=kind == "work" and rng.random() < 0.7,
        )

    def _item_sends(self, item: Item) -> list[list[Planned]]:
        """The item's versions in order, the last two sometimes swapped (newest first) and two
        neighbours sometimes sent at once."""
        rng = self._rng
        last = item.versions + (1 if item.withdrawn else 0)
        events = [Planned("item", item.tenant, item, version=v) for v in range(1, last + 1)]
        if len(events) >= 2 and rng.random() < 0.25:
            newest = events.pop()
            events.insert(len(events) - 1, Planned(
                "item", item.tenant, item, version=newest.version, out_of_order=True
            ))  # fmt: skip
        sends: list[list[Planned]] = []
        for event in events:
            if sends and len(sends[-1]) == 1 and rng.random() < 0.15:
                sends[-1].append(event)  # sent concurrently with the previous version
            else:
                sends.append([event])
        return sends

    def _place_grants(self, merged: list[list[Planned]]) -> None:
        """Each researcher consents before their works, during, after, or never; some then
        revoke through their CRIS (``researcher.revoked``) and some consent again."""
        rng = self._rng
        for person in self.researchers:
            timing = rng.choices(("before", "during", "after", "never"), (3, 4, 2, 1))[0]
            if timing == "never":
                continue
            grant = Planned("grant", person.tenant, researcher=person.number, number=0)
            if timing == "before":
                at = rng.randrange(max(1, len(merged) // 10))
            elif timing == "after":
                at = len(merged) - rng.randrange(max(1, len(merged) // 10))
            else:
                at = rng.randrange(len(merged) + 1)
                theirs = [
                    send for send in merged
                    if send[0].item is not None and send[0].item.tenant == person.tenant
                    and person.number in send[0].item.researchers and send[0].what == "item"
                ]  # fmt: skip
                if theirs and rng.random() < 0.5:
                    rng.choice(theirs).append(grant)
                    continue
            merged.insert(at, [grant])
            if rng.random() < 0.15:
                later = rng.randrange(at + 1, len(merged) + 1)
                revoke = Planned("revoke", person.tenant, researcher=person.number)
                merged.insert(later, [revoke])
                if rng.random() < 0.5:
                    again = Planned("grant", person.tenant, researcher=person.number, number=1)
                    merged.insert(rng.randrange(later + 1, len(merged) + 1), [again])

    def _place_duplicates(self, merged: list[list[Planned]]) -> None:
        rng = self._rng
        for at in sorted(rng.sample(range(len(merged)), len(merged) // 10), reverse=True):
            original = merged[at][0]
            if original.what == "grant":  # a grant is the token of the moment: never re-sent
                continue
            again = Planned(original.what, original.tenant, original.item, original.version,
                            original.researcher, original.number, duplicate=True)  # fmt: skip
            merged.insert(rng.randrange(at + 1, len(merged) + 1), [again])

    def _plan_actions(self, events: int) -> list[tuple[str, int, float]]:
        """What researchers do at ORCID: (action, researcher index, a draw for the target)."""
        rng = self._rng
        kinds = ("revoke_at_orcid", "delete_work", "delete_work", "delete_activity")
        return [
            (rng.choice(kinds), rng.randrange(len(self.researchers)), rng.random())
            for _ in range(max(2, events // 40))
        ]

    # -- sending --------------------------------------------------------------------------------

    def step(self) -> int:
        """Send the next burst (1-4 sends; a send of several events goes from threads at once);
        the number of events sent (or given up on, see ``unconfirmed``), 0 when all were."""
        self._start()
        burst = self._queue[: self._rng.randint(1, 4)]
        del self._queue[: len(burst)]
        done = 0
        for send in burst:
            if len(send) == 1:
                done += self._deliver(send[0], self._clients[send[0].tenant])
                continue
            with ThreadPoolExecutor(len(send)) as pool:
                done += sum(pool.map(self._deliver_alone, send))
            with self._lock:
                self.concurrent += len(send)
        return done

    @property
    def finished(self) -> bool:
        return not self._queue

    def schedule(self) -> list[list[str]]:
        """The sends still to come (several in one: sent at once), each event described."""
        return [[planned.describe() for planned in send] for send in self._queue]

    def _start(self) -> None:
        if self._started:
            return
        for person in self.researchers:
            body = {"given_names": "Chaos", "family_name": f"T{person.tenant}R{person.number}"}
            person.orcid = self._control("POST", "/orcid/researchers", body)["orcid"]
        self._started = True

    def _deliver_alone(self, planned: Planned) -> int:
        tenant = self.target.tenants[planned.tenant]
        client = PidsyncClient(self.target.intake_url, tenant.client_id, tenant.secret)
        return self._deliver(planned, client)

    def _deliver(self, planned: Planned, client: PidsyncClient) -> int:
        event = self._event(planned)
        status, body = self._send(client, event)
        with self._lock:
            if status == 0:  # counted as tried: 0 from step() means nothing is left
                self.unconfirmed += 1
                self._unanswered.append(planned)
                return 1
            self.sent += 1
            self.duplicates += planned.duplicate
            self.out_of_order += planned.out_of_order
            self._answered(planned, event, status, body)
        return 1

    def _answered(self, planned: Planned, event: dict[str, Any], status: int, body: Any) -> None:
        if planned.what == "cross":
            if status == 403:
                self.cross_tenant_refused += 1
            else:
                self.cross_tenant_accepted += 1
                self.cross_tenant_writes.append(f"{event['id']} to {event['source']}: {status}")
            return
        if status >= 400:
            self.rejected += 1
            self.rejections.append(f"{event['type']} {event['id']} answered {status}: {body}")
            return
        self.accepted.append(Sent(planned.tenant, event["id"], event["type"], event["data"]))
        person = None if planned.duplicate else self._researcher(planned)
        if planned.what == "grant" and person is not None:
            person.token, person.usable = event["data"]["access_token"], True
        elif planned.what == "revoke" and person is not None:
            person.usable = False

    def _researcher(self, planned: Planned) -> Researcher | None:
        for person in self.researchers:
            if person.tenant == planned.tenant and person.number == planned.researcher:
                return person
        return None

    def _send(self, client: PidsyncClient, event: dict[str, Any]) -> tuple[int, Any]:
        """Send until answered (the web restarts, its database comes back): (status, body);
        (0, None) when no answer came within ``send_timeout``. Re-sending is safe: the intake
        is idempotent on (source, id)."""
        deadline = time.monotonic() + self.send_timeout
        pause = 0.2
        while True:
            try:
                answer = client.send(event)
            except PidsyncUnreachable:
                answer = None
            if answer is not None and answer.status not in _RETRYABLE:
                return answer.status, answer.body
            if time.monotonic() + pause > deadline:
                return 0, None
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    # -- the events -----------------------------------------------------------------------------

    def _event(self, planned: Planned) -> dict[str, Any]:
        """The CloudEvent for ``planned``; a duplicate is the original's body again."""
        tenant = self.target.tenants[planned.tenant]
        event_type, event_id, data = self._content(planned)
        cached = (planned.tenant, event_id)
        with self._lock:
            if cached in self._bodies:
                return self._bodies[cached]
        source = self.target.tenants[0].source if planned.what == "cross" else tenant.source
        event = {"specversion": "1.0", "id": event_id, "source": source, "type": event_type,
                 "datacontenttype": "application/json", "data": data}  # fmt: skip
        with self._lock:
            return self._bodies.setdefault(cached, event)

    def _content(self, planned: Planned) -> tuple[str, str, dict[str, Any]]:
        person = self._researcher(planned)
        if planned.what == "grant" and person is not None:
            return (
                "researcher.authorized",
                f"grant-{person.orcid}-{planned.number}",
                self._token(person),
            )
        if planned.what == "revoke" and person is not None:
            return "researcher.revoked", f"revoked-{person.orcid}", {"orcid": person.orcid}
        item = planned.item
        if item is None:
            raise ValueError(f"a planned {planned.what} without its item")
        if planned.what == "cross":
            data = self._data(item, 99)
            data[_title_field(item.kind)] = f"Written by another tenant {planned.number}"
            return f"{item.kind}.updated", f"cross-{planned.number}", data
        if planned.version > item.versions:
            return (
                f"{item.kind}.withdrawn",
                f"{item.kind}-{item.key}-withdrawn",
                {"id": item.key, "version": planned.version},
            )
        verb = "published" if planned.version == 1 else "updated"
        return (
            f"{item.kind}.{verb}",
            f"{item.kind}-{item.key}-v{planned.version}",
            self._data(item, planned.version),
        )

    def _token(self, person: Researcher) -> dict[str, Any]:
        """The researcher consents at ORCID (the sandbox issues the token a CRIS receives)."""
        path = f"/orcid/researchers/{person.orcid}/tokens"
        token: dict[str, Any] = self._control("POST", path, {"scope": ORCID_SCOPE})
        return token

    def _orcids(self, item: Item) -> list[str]:
        by_number = {p.number: p.orcid for p in self.researchers if p.tenant == item.tenant}
        return [by_number[n] for n in item.researchers]

    def _data(self, item: Item, version: int) -> dict[str, Any]:
        marker = _marker(item.kind, item.key, version)
        orcids = self._orcids(item)
        if item.kind == "affiliation":
            return {"id": item.key, "version": version, "orcid": orcids[0],
                    "kind": "employment", "role": marker, "start_date": "2020-01"}  # fmt: skip
        if item.kind == "funding":
            return {
                "id": item.key, "version": version, "title": marker, "type": "grant",
                "funder": _FUNDER, "grant_number": f"CH-{item.key}",
                "contributors": [{"orcid": o, "role": "lead"} for o in orcids],
            }  # fmt: skip
        tenant = self.target.tenants[item.tenant]
        work: dict[str, Any] = {
            "id": item.key,
            "version": version,
            "type": "dataset",
            "title": marker,
            "publisher": "Chaos University",
            "publication_date": "2026-01-15",
            "url": f"https://repo.chaos.example.edu/{tenant.client_id}/{item.key}",
            "contributors": [{"given": "Ada", "family": "Lovelace"}]
            + [{"given": "Chaos", "family": f"R{n}", "orcid": o} for n, o in enumerate(orcids)],
        }
        if item.datacite:
            work["registration"] = {"registrar": "datacite"}
        return work

    # -- the researchers at ORCID -------------------------------------------------------------

    def researcher_actions(self) -> int:
        """The next one or two things researchers do at ORCID themselves (revoke their tokens,
        delete a work or an activity pidsync wrote); how many were done (one that finds nothing
        to act on yet is skipped)."""
        self._start()
        done = 0
        for _ in range(min(len(self._actions), self._rng.randint(1, 2))):
            action, index, draw = self._actions.pop(0)
            person = self.researchers[index]
            if action == "revoke_at_orcid":
                self._control("POST", f"/orcid/researchers/{person.orcid}/revoke", {})
                with self._lock:
                    person.usable = False
                if self._queue and draw < 0.5:
                    self._regrants += 1
                    again = Planned(
                        "grant", person.tenant, researcher=person.number, number=10 + self._regrants
                    )
                    self._queue.insert(self._rng.randrange(len(self._queue) + 1), [again])
                done += 1
            elif self._delete(person, "works" if action == "delete_work" else "activities", draw):
                done += 1
        self.researcher_actions_done += done
        return done

    def _delete(self, person: Researcher, what: str, draw: float) -> bool:
        record = self._control("GET", f"/orcid/researchers/{person.orcid}")
        source = self.target.tenants[person.tenant].source + ":"
        ours = [
            (entry["put_code"], ext["value"])
            for entry in record.get(what, [])
            for ext in entry["external_ids"]
            if ext["type"] == "source-work-id" and str(ext["value"]).startswith(source)
        ]
        if not ours:
            return False
        put_code, self_id = ours[int(draw * len(ours))]
        self._control("DELETE", f"/orcid/researchers/{person.orcid}/{what}/{put_code}")
        with self._lock:
            self.deleted_at_orcid.add((person.orcid, self_id))
        return True

    def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The sandbox's control API; a refusal is the traffic's own mistake."""
        url = self.target.control_url.rstrip("/") + path
        deadline = time.monotonic() + self.send_timeout
        while True:
            try:
                answer = self._http.request(method, url, json=body, timeout=30)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise TrafficError(f"the sandbox's {method} {path} did not answer") from None
                time.sleep(0.5)
        if answer.status_code >= 400:
            raise TrafficError(f"the sandbox answered {method} {path}: {answer.status_code}")
        return answer.json() if answer.content else None

    # -- what the checks need -----------------------------------------------------------------

    def expected(self) -> list[Expected]:
        """The newest accepted version of every item the traffic sent."""
        newest: dict[tuple[int, str, str], int] = {}
        for sent in self.accepted:
            kind = sent.type.partition(".")[0]
            if kind not in SECTIONS or sent.event_id.startswith("cross-"):
                continue
            key = (sent.tenant, kind, str(sent.data["id"]))
            newest[key] = max(newest.get(key, 0), int(sent.data["version"]))
        unanswered = {
            (p.tenant, p.item.kind, p.item.key): p.version
            for p in self._unanswered
            if p.item is not None and p.what == "item"
        }
        out = []
        for item in self.items:
            key = (item.tenant, item.kind, item.key)
            if key not in newest:
                continue
            version = newest[key]
            withdrawn = version > item.versions
            out.append(
                Expected(
                    tenant=self.target.tenants[item.tenant],
                    kind=item.kind,
                    key=item.key,
                    version=version,
                    withdrawn=withdrawn,
                    marker="" if withdrawn else _marker(item.kind, item.key, version),
                    orcids=tuple(self._orcids(item)),
                    datacite=item.datacite,
                    confirmed=unanswered.get(key, 0) < version,
                )
            )
        return out

    def usable_grants(self) -> dict[str, str]:
        """ORCID iD -> the access token of researchers who, as far as the traffic knows, hold a
        usable grant at the end (the checks also ask the sandbox whether it is revoked)."""
        return {p.orcid: p.token for p in self.researchers if p.usable and p.token}

    def accepted_ids(self) -> list[tuple[str, str]]:
        """(source, event id) of every event pidsync accepted."""
        tenants = self.target.tenants
        return sorted({(tenants[s.tenant].source, s.event_id) for s in self.accepted})


def _title_field(kind: str) -> str:
    return "role" if kind == "affiliation" else "title"
