"""What a Work must carry before a registrar can take it, checked when the Work arrives.

The registrar's own checks are the ones the renderers run before every send
(``check_datacite``, ``check_crossref``); the intake runs them too, so a Work DataCite would
refuse is a 422 naming the fields now, not a ``failed`` outcome minutes later. A Work without a
DOI gets one minted on the account's first prefix: the check runs with a stand-in of that form.
"""

from __future__ import annotations

from collections.abc import Sequence

from worker.metadata.errors import MissingFields, Unrepresentable
from worker.metadata.render.crossref_xml import check_crossref
from worker.metadata.render.datacite_json import check_datacite
from worker.metadata.work import Work

#: The suffix the check stands in for a DOI pidsync will mint (never sent anywhere).
_MINTED_STAND_IN = "pidsync-intake-check"


def registration_problems(work: Work, prefixes: Sequence[str]) -> list[tuple[str, str]]:
    """(path, message) for each thing ``work``'s registrar needs and lacks, and for a ``doi``
    outside ``prefixes`` (the chosen account's); empty when the Work can be registered."""
    registrar = work.registrar
    if registrar not in ("datacite", "crossref"):
        return []
    problems: list[tuple[str, str]] = []
    doi = work.doi
    if doi is not None:
        prefix = doi.split("/", 1)[0]
        if prefix not in prefixes:
            problems.append(
                ("doi", f"prefix {prefix} is not one of the account's ({', '.join(prefixes)})")
            )
    elif prefixes:
        doi = f"{prefixes[0]}/{_MINTED_STAND_IN}"
    candidate = work.model_copy(update={"doi": doi})
    try:
        if registrar == "datacite":
            check_datacite(candidate)
        else:
            check_crossref(candidate)
    except (MissingFields, Unrepresentable) as exc:
        problems += [(path, f"{registrar}: {message}") for path, message in exc.problems]
    return problems
