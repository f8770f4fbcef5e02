"""ORCID's error answers: the v3.0 API error body and the OAuth error body.

Texts are ORCID's own (orcid-core ``i18n/api_en.properties``; the status for each code from
``OrcidCoreExceptionMapper``; API_FACTS.md §1.2, §1.3 and §1.6). ORCID builds the developer
message from the code's template and appends ``Full validation error: <detail>`` when the
exception carries one; the 404 codes carry none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MORE_INFO = "https://members.orcid.org/api/resources/troubleshooting"

_CLIENT = "${clientName}"

#: code -> (HTTP status, developer-message template, user-message template)
CATALOG: dict[int, tuple[int, str, str]] = {
    9001: (
        400,
        (
            "400 Bad Request: There is an issue with your data or the API endpoint. "
            "405 Method Not Allowed: Endpoint and method mismatch. "
            "415 Unsupported Media Type: data must be in XML or JSON format."
        ),
        "ORCID could not process the data, because they were invalid.",
    ),
    9006: (
        400,
        "The client application sent a bad request to ORCID.",
        "The client application sent a bad request to ORCID.",
    ),
    9008: (500, "Something went wrong in ORCID.", "Something went wrong in ORCID."),
    9009: (
        403,
        "403 Forbidden: The notification has already been read and cannot be archived.",
        "The client application tried to archive a message that has already been read.",
    ),
    9010: (
        403,
        (
            "403 Forbidden: You are not the source of the ${activity}, so you are not allowed to "
            "update it."
        ),
        "The client application is not the source of the resource it is trying to access.",
    ),
    9012: (
        400,
        "The client application made a bad request to the ORCID API.",
        "The client application made a bad request to the ORCID API.",
    ),
    9013: (
        403,
        "403 Forbidden: The item is private and you are not the source.",
        "The client application is forbidden to perform the action.",
    ),
    9016: (404, "404 Not Found: The resource was not found.", "The resource was not found."),
    9017: (
        401,
        "401 Unauthorized: The client application is not authorized for this ORCID record.",
        "The client application is not authorized.",
    ),
    9019: (
        400,
        (
            "400 Bad Request: The put code in the URL was ${urlPutCode} whereas the one in the "
            "body was ${bodyPutCode}."
        ),
        (
            "There was an error when updating the record. Please try again. If the error persists, "
            f"please contact {_CLIENT} for assistance."
        ),
    ),
    9020: (400, "400 Bad Request: Invalid incoming message.", "Invalid incoming message."),
    9021: (
        409,
        (
            "409 Conflict: You have already added this activity (matched by external identifiers), "
            "please see element with put-code ${putCode}. If you are trying to edit the item, "
            "please use PUT instead of POST."
        ),
        (
            "There was an error when updating the record. Please try again. If the error persists, "
            f"please contact {_CLIENT} for assistance."
        ),
    ),
    9022: (
        400,
        "400 Bad Request: Invalid activity, a title is required.",
        "Invalid activity:  A title is required.",
    ),
    9023: (
        400,
        "400 Bad Request: Invalid activity, an external identifier is required.",
        "Invalid activity: an external identifier is required.",
    ),
    9024: (
        400,
        (
            "400 Bad Request: Put-code is included when not expected. When posting new activities, "
            "the put code should be omitted."
        ),
        (
            "There was an error when updating the record. Please try again. If the error persists, "
            f"please contact {_CLIENT} for assistance."
        ),
    ),
    9028: (
        404,
        "No webhook found for orcid=${orcid}, and uri=${uri}.",
        "The resource was not found.",
    ),
    9029: (
        404,
        "404 Not Found: Could not find notification with id: ${id} for ORCID: ${orcid}.",
        "The resource was not found.",
    ),
    # The group-id registry's duplicate (the sandbox's wording; ORCID answers a 409 here).
    9030: (
        409,
        "409 Conflict: There is already a group id record with the group id ${groupId}.",
        "The group id already exists.",
    ),
    9032: (
        409,
        (
            "409 Conflict: The user has opted not to receive notifications so you cannot post "
            "notifications."
        ),
        "The user ${orcid} doesn't allow notifications.",
    ),
    9034: (
        400,
        "400 Bad Request: The put code provided is not valid.",
        (
            "There was an error when updating the record. Please try again. If the error persists, "
            f"please contact {_CLIENT} for assistance."
        ),
    ),
    9035: (
        403,
        (
            "403 Forbidden: You can't change the visibility of an item, please remove the "
            "visibility or set it to the current value."
        ),
        (
            "There was an error when updating the record. Please try again. If the error persists, "
            f"please contact {_CLIENT} for assistance."
        ),
    ),
    9037: (400, "Invalid ${type}, valid values are: ${values}.", "Please specify a work type."),
    9038: (
        403,
        (
            "409 Conflict: The item has a limited or private visibility and your request doesn't "
            "have the required scope."
        ),
        "You don't have the permissions to execute this action.",
    ),
    9039: (
        403,
        "403 Forbidden: The item is not public and cannot be accessed with the Public API.",
        "The client application is forbidden to perform the action.",
    ),
    9042: (400, "Too many put codes supplied", "Too many put codes supplied"),
    9043: (
        400,
        (
            "The start parameter for API users without credentials must be an integer between 0 "
            "and 10,000"
        ),
        (
            "The start parameter for API users without credentials must be an integer between 0 "
            "and 10,000"
        ),
    ),
    9047: (400, "400 Bad request: invalid JSON - ${error}", "Invalid JSON."),
    9048: (
        409,
        (
            "409 Conflict: The maximum number of works that can be connected to an ORCID record is "
            "10,000"
        ),
        (
            "The maximum number of works that can be connected to an ORCID record is 10,000 and "
            "you have now exceeded this limit. Please remove some works and try again. For more "
            "information, see https://support.orcid.org/hc/articles/360006973133"
        ),
    ),
    9049: (400, "400 Bad request: invalid date: ${dateString} ", "Invalid date"),
    9051: (
        400,
        "400 Bad request: invalid value '${value}' for enum '${enum}'",
        "Invalid value for type. ",
    ),
    9058: (
        400,
        "404 Bad Request: Invalid contributor role: ${role}. Expected one of ${validRoles}. ",
        "Invalid contributor role.",
    ),
}

_NO_DETAIL = frozenset({9016, 9028, 9029})


def _fill(template: str, params: dict[str, str]) -> str:
    for key, value in params.items():
        template = template.replace("${" + key + "}", value)
    return template


@dataclass(eq=False)
class OrcidApiError(Exception):
    """An answer in ORCID's v3.0 error shape (JSON or ``error:error`` XML)."""

    status: int
    code: int
    developer_message: str
    user_message: str

    def body(self) -> dict[str, Any]:
        return {
            "response-code": self.status,
            "developer-message": self.developer_message,
            "user-message": self.user_message,
            "error-code": self.code,
            "more-info": MORE_INFO,
        }


def api_error(
    code: int, detail: str | None = None, *, client_name: str | None = None, **params: str
) -> OrcidApiError:
    """The error ``code`` with its template filled from ``params``.

    ``client_name`` fills ``${clientName}``; ORCID leaves ``${clientName}`` unfilled when it
    has no name (an anonymous caller).
    """
    status, developer, user = CATALOG[code]
    if client_name is not None:
        params = {**params, "clientName": client_name}
    developer = _fill(developer, params)
    if detail and code not in _NO_DETAIL:
        developer = f"{developer} Full validation error: {detail}"
    return OrcidApiError(status, code, developer, _fill(user, params))


class OAuthError(Exception):
    """An OAuth answer: ``{"error", "error_description"}`` (orcid-core ``OAuthError``)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def invalid_token(token: str) -> OAuthError:
    """The API's answer to an unknown, expired or revoked bearer token (API_FACTS §1.3)."""
    return OAuthError(401, "invalid_token", f"Invalid access token: {token}")


def forbidden() -> OAuthError:
    """The API's answer to a request with no authentication where one is required."""
    return OAuthError(
        403,
        "forbidden",
        "Forbidden: The server understood the request but refuses to authorize it.",
    )
