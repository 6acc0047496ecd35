"""The callback encryption WeCom and DingTalk share (Tencent's ``WXBizMsgCrypt`` scheme).

- ``msg_signature = sha1(''.join(sorted([token, timestamp, nonce, encrypt])))`` (hex).
- AES key = base64decode(EncodingAESKey + "=") (32 bytes), AES-256-CBC, IV = key[:16].
- Plaintext = 16 random bytes + 4-byte big-endian length + message + receive id, padded with
  PKCS#7 to 32-byte blocks (not AES's 16). The receive id (WeCom CorpID; DingTalk appKey, corpId or
  suiteKey) is checked, so a message encrypted for another tenant is refused.

Pure functions; the random prefix of :func:`encrypt` is a parameter so answers are testable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from services.ingest.adapters.base import SignatureError, same

BLOCK = 32


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


def verify(token: str, timestamp: str, nonce: str, encrypt: str, given: str | None) -> None:
    if not given:
        raise SignatureError("missing", "缺少 msg_signature / missing msg_signature")
    if not same(signature(token, timestamp, nonce, encrypt), given.lower()):
        raise SignatureError("invalid", "msg_signature 不匹配 / msg_signature mismatch")


def aes_key(encoding_aes_key: str) -> bytes:
    try:
        key = base64.b64decode(encoding_aes_key + "=")
    except binascii.Error as exc:
        raise ValueError("EncodingAESKey is not base64") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes (43 characters)")
    return key


def decrypt(encoding_aes_key: str, encrypt: str, receive_id: str) -> str:
    """The message inside ``encrypt``; SignatureError when it does not decrypt for ``receive_id``."""
    key = aes_key(encoding_aes_key)
    try:
        data = base64.b64decode(encrypt, validate=True)
    except binascii.Error as exc:
        raise SignatureError("invalid", "密文不是 base64 / ciphertext is not base64") from exc
    if not data or len(data) % 16:
        raise SignatureError("invalid", "密文长度错误 / bad ciphertext length")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise SignatureError("invalid", "解密失败 / decryption failed (padding)")
    plain = plain[:-pad]
    if len(plain) < 20:
        raise SignatureError("invalid", "解密失败 / decryption failed (too short)")
    (length,) = struct.unpack(">I", plain[16:20])
    message, rest = plain[20:20 + length], plain[20 + length:]
    if len(message) != length or not same(rest, receive_id.encode()):
        raise SignatureError("invalid", "receiveid 不匹配 / message is not for this receive id")
    try:
        return message.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SignatureError("invalid", "解密结果不是 UTF-8 / decrypted message is not UTF-8") from exc


def encrypt(encoding_aes_key: str, message: str, receive_id: str, random16: bytes) -> str:
    """Encrypt ``message`` for ``receive_id`` (answers to DingTalk, and test fixtures)."""
    if len(random16) != 16:
        raise ValueError("random prefix must be 16 bytes")
    key = aes_key(encoding_aes_key)
    body = message.encode()
    plain = random16 + struct.pack(">I", len(body)) + body + receive_id.encode()
    pad = BLOCK - len(plain) % BLOCK
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
