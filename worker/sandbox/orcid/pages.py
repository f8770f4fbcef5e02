"""The two HTML pages of the OAuth host: the consent form and the error page."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

#: What ORCID's consent screen says for each scope.
SCOPE_TEXT = {
    "/authenticate": "Get your ORCID iD",
    "/activities/update": "Add/update your research activities (works, affiliations, etc)",
    "/activities/read-limited": "Read your information with visibility set to Trusted Parties",
    "/person/update": "Add/update other information about you (country, keywords, etc.)",
    "/person/read-limited": "Read your information with visibility set to Trusted Parties",
    "/read-limited": "Read your information with visibility set to Trusted Parties",
    "/read-public": "Read public information on your record",
    "openid": "Get your ORCID iD",
}
_CARRIED = ("client_id", "response_type", "scope", "redirect_uri", "state")

_STYLE = (
    "body{font-family:sans-serif;max-width:36em;margin:3em auto}"
    "button{padding:.5em 1.5em;margin-right:1em}.problem{color:#a00}"
)


def consent_page(client_name: str, params: Mapping[str, str], problem: str | None = None) -> str:
    """The consent form: hidden request fields, the researcher's iD, Authorize and Deny."""
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{escape(params.get(name, ""))}">'
        for name in _CARRIED
        if name in params
    )
    scopes = "".join(
        f"<li>{escape(SCOPE_TEXT.get(scope, scope))} <code>{escape(scope)}</code></li>"
        for scope in params.get("scope", "").replace(",", " ").split()
    )
    warning = f'<p class="problem">{escape(problem)}</p>' if problem else ""
    orcid = escape(params.get("orcid", ""))
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>Authorize access - ORCID sandbox</title><style>{_STYLE}</style></head><body>"
        f"<h1>Authorize access</h1><p><strong>{escape(client_name)}</strong> has asked for the "
        f"following access to your ORCID record:</p><ul>{scopes}</ul>{warning}"
        '<form method="post" action="">'
        f"{hidden}"
        "<p><label>Signed in as (sandbox researcher ORCID iD): "
        f'<input type="text" name="orcid" value="{orcid}" required></label></p>'
        '<button type="submit" name="user_oauth_approval" value="true">Authorize access</button>'
        '<button type="submit" name="user_oauth_approval" value="false">Deny access</button>'
        "</form></body></html>"
    )


def error_page(error: str, description: str) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>OAuth error - ORCID sandbox'
        f"</title><style>{_STYLE}</style></head><body><h1>OAuth error</h1>"
        f'<p class="problem">error="{escape(error)}", error_description="{escape(description)}"'
        "</p></body></html>"
    )
