"""Trust the redirect back from pidsync's ORCID consent flow only if pidsync signed it.

Run: ORCID_CLIENT_SECRET=... python consent.py 'https://cris.example.edu/orcid/done?orcid=...'
"""

from __future__ import annotations

# --8<-- [start:trusted]
import hashlib
import hmac
import os
import sys
import time
from urllib.parse import parse_qsl, urlencode, urlsplit


def trusted(params: dict[str, str], orcid_client_secret: str, max_age: int = 300) -> bool:
    """Whether orcid_sig signs these parameters with your ORCID client's secret, lately."""
    names = ("orcid", "orcid_status", "orcid_ts", "person")
    signed = sorted((k, v) for k, v in params.items() if k in names)
    text = urlencode(signed)  # sorted by name, form-encoded (a space is "+")
    expected = hmac.new(orcid_client_secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    ts = params.get("orcid_ts", "")
    fresh = ts.isdigit() and abs(time.time() - int(ts)) < max_age
    return fresh and hmac.compare_digest(expected, params.get("orcid_sig", ""))


# In a web handler: trusted(dict(request.query_params), ORCID_CLIENT_SECRET)
# --8<-- [end:trusted]

if __name__ == "__main__":
    query = dict(parse_qsl(urlsplit(sys.argv[1]).query, keep_blank_values=True))
    if not trusted(query, os.environ["ORCID_CLIENT_SECRET"]):
        print("refused")
        sys.exit(1)
    print("trusted", query.get("orcid"), query["orcid_status"], query.get("person"))
