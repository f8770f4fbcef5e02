"""Secrets never reach a log line, whichever path they take."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
import structlog

from worker.logging import (
    REDACTED,
    configure_logging,
    redact,
    redact_text,
    register_secret,
    register_token,
)

TOKEN = "f5af9f51-07e6-4332-8f1a-c0c11c1e3728"
PASSWORD = "crossref-Pa55word"


@pytest.fixture
def json_logs(capsys):
    configure_logging("DEBUG", "json")
    structlog.reset_defaults()
    configure_logging("DEBUG", "json")
    yield lambda: capsys.readouterr().err
    configure_logging("INFO", "console")


def test_token_never_appears_on_any_log_path(json_logs):
    log = structlog.get_logger("test")
    log.info("key", access_token=TOKEN)
    log.info(
        "nested", response={"access_token": TOKEN, "headers": {"Authorization": f"Bearer {TOKEN}"}}
    )
    log.info(
        "url", url=f"https://doi.crossref.org/servlet/deposit?login_id=me&login_passwd={PASSWORD}"
    )
    log.info("form", body=f"client_id=APP-1&client_secret={PASSWORD}&refresh_token={TOKEN}")
    log.info("json text", body=json.dumps({"refresh_token": TOKEN}))
    log.warning("orcid said", error=f"Invalid access token: {TOKEN}")
    log.info(f"message itself with Bearer {TOKEN}")
    logging.getLogger("dramatiq").warning("stdlib %s", f"pwd={PASSWORD}")
    try:
        raise RuntimeError(f"failed with token {TOKEN}")
    except RuntimeError:
        register_secret(TOKEN)
        log.exception("with traceback")
        logging.getLogger("stdlib").exception("stdlib traceback")
    out = json_logs()
    assert out.count("\n") >= 10
    assert TOKEN not in out
    assert PASSWORD not in out
    assert "[REDACTED]" in out


def test_redact_keeps_harmless_values():
    assert redact({"orcid": "0000-0002-1825-0097", "password": ""}) == {
        "orcid": "0000-0002-1825-0097",
        "password": "",
    }
    assert (
        redact("https://api.test.datacite.org/dois/10.5072/x")
        == "https://api.test.datacite.org/dois/10.5072/x"
    )


def test_a_researchers_token_is_redacted_wherever_it_stands_among_many():
    """Tokens are registered by the thousand (one per researcher); each must still be found
    in any text, alone or inside a longer run of token characters, and nothing else is cut."""
    many = [str(uuid.uuid4()) for _ in range(5000)]
    for token in many:
        register_token(token)
    token, other = many[4321], many[17]
    texts = [
        f"Invalid token {token} here",
        f"/v3.0/0000-0002-1825-0097/{token}/works",
        f"prefix{token}suffix",
        f"x-{token}-{other}",
        json.dumps({"t": token}),
    ]
    for text in texts:
        redacted = redact_text(text)
        assert token not in redacted and other not in redacted, redacted
        assert REDACTED in redacted
    harmless = "10.5072/abc-def findable 0000-0002-1825-0097 " + str(uuid.uuid4())
    assert redact_text(harmless) == harmless


def test_a_token_of_another_shape_is_redacted_as_a_secret():
    odd = "token with spaces:1234"
    register_token(odd)
    assert redact_text(f"said {odd}.") == f"said {REDACTED}."


def test_a_few_tokens_are_each_searched_for(monkeypatch):
    """Below the threshold each token is searched for in the text: found anywhere in it."""
    import worker.logging as module

    monkeypatch.setattr(module, "_known_tokens", set())
    monkeypatch.setattr(module, "_token_lengths", set())
    token = str(uuid.uuid4())
    register_token(token)
    assert redact_text(f"/x/a{token}b?c") == f"/x/a{REDACTED}b?c"
