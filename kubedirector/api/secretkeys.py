"""AES-GCM for `secretKeys`: values are stored encrypted with the config's key.

The stored form is the hex encoding of a 12-byte random nonce followed by the
ciphertext and its tag, so one value never encrypts to the same text twice.
"""

from __future__ import annotations

import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_SIZE = 12
KEY_SIZES = (16, 24, 32)


class SecretKeyError(ValueError):
    """A key or an encrypted value is unusable."""


def key_error(key_hex: str) -> str | None:
    """Why a `masterEncryptionKey` is unusable, or None when it is a valid AES key."""
    try:
        key = bytes.fromhex(key_hex)
    except ValueError:
        return "must be hexadecimal"
    if len(key) not in KEY_SIZES:
        return f"must be 32, 48 or 64 hex digits (an AES key), not {len(key_hex)}"
    return None


def _cipher(key_hex: str) -> AESGCM:
    problem = key_error(key_hex)
    if problem:
        raise SecretKeyError(f"masterEncryptionKey {problem}")
    return AESGCM(bytes.fromhex(key_hex))


def encrypt(plaintext: str, key_hex: str, nonce: bytes | None = None) -> str:
    """Encrypt one secret value; `nonce` is for tests only (never reuse one)."""
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    if len(nonce) != NONCE_SIZE:
        raise SecretKeyError(f"nonce must be {NONCE_SIZE} bytes")
    return (nonce + _cipher(key_hex).encrypt(nonce, plaintext.encode(), None)).hex()


def decrypt(token: str, key_hex: str) -> str:
    """Decrypt a value made by `encrypt` with the same key."""
    cipher = _cipher(key_hex)
    try:
        raw = binascii.unhexlify(token)
    except (binascii.Error, ValueError) as exc:
        raise SecretKeyError("encrypted value is not hexadecimal") from exc
    if len(raw) <= NONCE_SIZE:
        raise SecretKeyError("encrypted value is too short")
    try:
        return cipher.decrypt(raw[:NONCE_SIZE], raw[NONCE_SIZE:], None).decode()
    except (InvalidTag, UnicodeDecodeError) as exc:
        raise SecretKeyError("encrypted value does not match the key") from exc
