"""The HTTP client for outbound webhooks (HTTP only; the URL comes with each call)."""

from __future__ import annotations

from worker.http import ApiClient


class WebhookClient(ApiClient):
    service = "webhook"
