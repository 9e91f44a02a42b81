"""Encryption at rest of organisations' identity-provider client secrets.

AES-256-GCM under a key derived (HKDF-SHA256) from ``CODO_SECRET_KEY``. The organisation id is
the associated data, so a ciphertext copied into another organisation's row does not decrypt.
"""

from __future__ import annotations

import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.settings import Settings

_INFO = b"codo identity-provider client secrets v1"
_VERSION = b"\x01"


class SecretUnreadable(Exception):
    """The stored secret was written under another CODO_SECRET_KEY (or altered)."""


def _key(settings: Settings) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(settings.secret)


def encrypt(settings: Settings, org_id: uuid.UUID, plaintext: str) -> bytes:
    nonce = os.urandom(12)
    return _VERSION + nonce + AESGCM(_key(settings)).encrypt(nonce, plaintext.encode(), org_id.bytes)


def decrypt(settings: Settings, org_id: uuid.UUID, blob: bytes) -> str:
    if blob[:1] != _VERSION or len(blob) < 13 + 16:
        raise SecretUnreadable("not a secret codo wrote")
    try:
        return AESGCM(_key(settings)).decrypt(blob[1:13], blob[13:], org_id.bytes).decode()
    except InvalidTag:
        raise SecretUnreadable("the client secret cannot be read with the current CODO_SECRET_KEY") from None
