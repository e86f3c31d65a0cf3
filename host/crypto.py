"""Encryption at rest for tokens and passwords (Fernet, from ``cryptography``).

The key comes from ``[host] encryption_key`` (or HOST_HOST__ENCRYPTION_KEY); when it is empty,
one is generated into the instance folder on first run, which suits the embedded SQLite default.
The key is never logged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

_fernet: Fernet | None = None


class SecretError(RuntimeError):
    """A stored secret cannot be read with the configured key."""


def load_or_create_key(configured: str, instance_path: str) -> bytes:
    """The configured key, or the instance folder's key file, created (mode 0600) when missing."""
    if configured:
        return configured.encode()
    key_file = Path(instance_path) / "encryption.key"
    if key_file.exists():
        return key_file.read_bytes().strip()
    key = Fernet.generate_key()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key


def configure(key: bytes) -> None:
    """Install the process-wide key (one deployment, one key)."""
    global _fernet
    try:
        _fernet = Fernet(key)
    except (ValueError, TypeError) as error:
        raise SecretError("the encryption key is not a valid Fernet key (32 url-safe base64 bytes)") from error


def encrypt(plaintext: str) -> str:
    if _fernet is None:
        raise SecretError("encryption is not configured; create the app first")
    return _fernet.encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    if _fernet is None:
        raise SecretError("encryption is not configured; create the app first")
    try:
        return _fernet.decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretError("a stored secret cannot be decrypted: was the encryption key changed?") from error


class EncryptedJSON(TypeDecorator):
    """A JSON value stored encrypted; the column holds only Fernet tokens."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect) -> str | None:
        return None if value is None else encrypt(json.dumps(value))

    def process_result_value(self, value: str | None, dialect) -> Any:
        return None if value is None else json.loads(decrypt(value))

