"""Signatures and message encryption of the official-account protocol (REFERENCE.md §8).

    signature(token, timestamp, nonce[, encrypt])   SHA-1 hex of the sorted, concatenated values: the URL check
                                                    ``signature`` without ``encrypt``, ``msg_signature`` with it
    MessageCrypto(encoding_aes_key, app_id)         AES-256-CBC of compatible and safe mode: the key is
                                                    base64(EncodingAESKey + "="), the IV its first 16 bytes, PKCS#7
                                                    padding to 32-byte blocks, plaintext = 16 random bytes +
                                                    4-byte big-endian length + message + AppID
"""

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeChat pads to 32 bytes, not AES's 16


class CryptoError(Exception):
    """The message cannot be decrypted or does not belong to this account."""


def signature(token: str, timestamp: str, nonce: str, encrypt: str | None = None) -> str:
    parts = [token, timestamp, nonce] + ([encrypt] if encrypt is not None else [])
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def signature_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected, given.strip().lower())


def pkcs7_pad(data: bytes) -> bytes:
    count = BLOCK - len(data) % BLOCK
    return data + bytes([count]) * count


def pkcs7_unpad(data: bytes) -> bytes:
    if not data:
        raise CryptoError("empty plaintext")
    count = data[-1]
    if not 1 <= count <= BLOCK or data[-count:] != bytes([count]) * count:
        raise CryptoError("bad padding")
    return data[:-count]


class MessageCrypto:
    def __init__(self, encoding_aes_key: str, app_id: str):
        if len(encoding_aes_key or "") != 43:
            raise CryptoError("the EncodingAESKey must be 43 characters")
        try:
            self.key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CryptoError("the EncodingAESKey is not base64") from exc
        if len(self.key) != 32:
            raise CryptoError("the EncodingAESKey does not decode to 32 bytes")
        self.app_id = app_id

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: str, *, random16: bytes | None = None) -> str:
        body = message.encode()
        random16 = random16 if random16 is not None else os.urandom(16)
        plain = pkcs7_pad(random16 + struct.pack(">I", len(body)) + body + self.app_id.encode())
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, encrypt: str) -> str:
        try:
            data = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CryptoError("Encrypt is not base64") from exc
        if not data or len(data) % 16:
            raise CryptoError("Encrypt is not a whole number of AES blocks")
        decryptor = self._cipher().decryptor()
        plain = pkcs7_unpad(decryptor.update(data) + decryptor.finalize())
        if len(plain) < 20:
            raise CryptoError("plaintext too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise CryptoError("message length beyond the plaintext")
        message, app_id = plain[20:20 + length], plain[20 + length:]
        if app_id.decode(errors="replace") != self.app_id:
            raise CryptoError("the message is for another AppID")
        try:
            return message.decode()
        except UnicodeDecodeError as exc:
            raise CryptoError("the message is not UTF-8") from exc
