"""A small typed client for integrators written in Python (InvenioRDM and other repositories):
sign and send events, read what became of them through the signed status API, and verify the
webhooks pidsync sends back. The CLI's ``emit`` and ``status`` and the demo use it, so the test
suite exercises it; it depends on ``requests`` and the standard library only.

    from worker.client import PidsyncClient, verify_webhook

    pidsync = PidsyncClient("https://pidsync.example.edu", "pure", secret)
    answer = pidsync.send(event).raise_for_status()
    status = pidsync.work_status("https://pure.example.edu", "w-1").body
"""

from worker.client.client import (
    Answer,
    PidsyncClient,
    PidsyncError,
    PidsyncRejected,
    PidsyncUnreachable,
    work_path,
)
from worker.client.signing import (
    SignatureError,
    sign_body,
    sign_read,
    verify_webhook,
)

__all__ = [
    "Answer",
    "PidsyncClient",
    "PidsyncError",
    "PidsyncRejected",
    "PidsyncUnreachable",
    "SignatureError",
    "sign_body",
    "sign_read",
    "verify_webhook",
    "work_path",
]
