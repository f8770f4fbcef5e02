"""ORCID tokens encrypted at rest with rotatable keys (cryptography's MultiFernet).

Keys come from ``PIDSYNC_TOKEN_KEYS`` (comma-separated Fernet keys, newest first). Without it,
one key is generated once into the data directory (mode 0600) and reused by every process. A
database dump therefore holds no usable token; rotating means putting a new key first and
running ``pidsync tokens rotate-keys``.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from worker.logging import register_token


class TokenKeyError(Exception):
    """No usable key, or a ciphertext no configured key can open."""


class TokenCipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise TokenKeyError("no token encryption key configured")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError as exc:
            raise TokenKeyError(
                "PIDSYNC_TOKEN_KEYS: each key must be 32 url-safe base64-encoded bytes "
                "(make one with `pidsync tokens new-key`)"
            ) from exc

    def encrypt(self, token: str) -> bytes:
        register_token(token)
        return self._fernet.encrypt(token.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            token = self._fernet.decrypt(ciphertext).decode()
        except InvalidToken:
            raise TokenKeyError(
                "a stored token cannot be decrypted with any configured key "
                "(was a key removed before `pidsync tokens rotate-keys` ran?)"
            ) from None
        register_token(token)
        return token

    def rotate(self, ciphertext: bytes) -> bytes:
        """Re-encrypt under the newest key."""
        try:
            return self._fernet.rotate(ciphertext)
        except InvalidToken:
            raise TokenKeyError(
                "a stored token cannot be decrypted with any configured key"
            ) from None


def new_key() -> str:
    return Fernet.generate_key().decode()


def load_keys(configured: list[str], data_dir: Path) -> list[str]:
    """The configured keys, or the one generated into the data directory on first use."""
    if configured:
        return configured
    path = data_dir / "token.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: two processes starting at once agree on one key.
        tmp = data_dir / f".token.key.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new_key())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return [path.read_text().strip()]
