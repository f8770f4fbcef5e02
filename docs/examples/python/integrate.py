"""Send a work to pidsync, read what became of it, and verify a webhook pidsync sent, with the
Python client that ships with pidsync (``pip install pidsync``: ``worker.client``).

Run: PIDSYNC_URL=... PIDSYNC_CLIENT=... PIDSYNC_SECRET=... \
     WEBHOOK_BODY_FILE=body.json WEBHOOK_SIGNATURE='t=...,v1=...' python integrate.py
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

# --8<-- [start:client]
from worker.client import PidsyncClient, SignatureError, verify_webhook

pidsync = PidsyncClient(
    os.environ["PIDSYNC_URL"],  # e.g. https://pidsync.example.edu
    os.environ["PIDSYNC_CLIENT"],  # your intake client's id
    os.environ["PIDSYNC_SECRET"],  # its secret: never log it
)
# --8<-- [end:client]

# --8<-- [start:send]
source = "https://cris.example.edu"
work_id = f"example-python-{uuid.uuid4().hex[:8]}"
event = {
    "specversion": "1.0",
    "id": f"event-{uuid.uuid4()}",  # unique per source: a repeat is answered as a duplicate
    "source": source,
    "type": "work.published",
    "datacontenttype": "application/json",
    "data": {
        "id": work_id,
        "type": "dataset",
        "title": "Ocean temperatures 2020",
        "publisher": "Example University",
        "publication_date": "2026-03-01",
        "url": f"https://repository.example.edu/{work_id}",
        "contributors": [{"given": "Ada", "family": "Lovelace"}],
    },
}
answer = pidsync.send(event).raise_for_status()  # PidsyncRejected on 4xx/5xx
receipt = answer.body["receipt"]
print("accepted", receipt)
# --8<-- [end:send]

# --8<-- [start:read]
print("event", pidsync.event(receipt).raise_for_status().body["status"])
for _ in range(40):  # the worker applies the event within moments
    status = pidsync.work_status(source, work_id)
    if status.status == 200:
        break
    time.sleep(0.25)
print("work", status.status, status.body.get("doi") if status.ok else status.body["error"])
# --8<-- [end:read]

# --8<-- [start:webhook]
body = Path(os.environ["WEBHOOK_BODY_FILE"]).read_bytes()  # the raw request body, unparsed
headers = {"Pidsync-Signature": os.environ["WEBHOOK_SIGNATURE"]}  # the request's headers
try:
    webhook = verify_webhook(headers, body, os.environ["PIDSYNC_SECRET"])
except SignatureError as exc:
    print("webhook refused:", exc)  # answer 401: pidsync did not send this
    sys.exit(1)
print("webhook verified", webhook["type"], webhook["data"].get("doi"))
# --8<-- [end:webhook]
