"""The cryptography of WeChat Pay API v3: RSA-SHA256 signatures (PKCS#1 v1.5) over its
newline-terminated messages, the Authorization header, and AEAD_AES_256_GCM resources.

Shared by the adapter (channel/wechat.py) and the simulator (channel/simulator/), so both
sides of every test speak exactly the same bytes."""

from __future__ import annotations

import base64
import re
import secrets
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
SHANGHAI = ZoneInfo("Asia/Shanghai")
_AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')


class DecryptionFailed(Exception):
    """An AEAD resource that does not decrypt (wrong APIv3 key, altered ciphertext)."""


def load_private_key(pem: bytes | str | Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(_pem_bytes(pem), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public_key(pem: bytes | str | Path) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(_pem_bytes(pem))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def _pem_bytes(pem: bytes | str | Path) -> bytes:
    if isinstance(pem, Path):
        return pem.read_bytes()
    return pem.encode() if isinstance(pem, str) else pem


def nonce() -> str:
    """32 characters of [A-Za-z0-9], like the official SDKs."""
    return secrets.token_hex(16).upper()


def sign(private_key: rsa.RSAPrivateKey, message: str) -> str:
    signature = private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(public_key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def request_message(method: str, path: str, timestamp: str, nonce_str: str, body: str) -> str:
    """What a request's signature covers: the path includes the query string."""
    return f"{method.upper()}\n{path}\n{timestamp}\n{nonce_str}\n{body}\n"


def response_message(timestamp: str, nonce_str: str, body: str) -> str:
    """What a response's or a notification's Wechatpay-Signature covers."""
    return f"{timestamp}\n{nonce_str}\n{body}\n"


def pay_sign_message(app_id: str, time_stamp: str, nonce_str: str, package: str) -> str:
    return f"{app_id}\n{time_stamp}\n{nonce_str}\n{package}\n"


def authorization(
    *,
    mchid: str,
    serial_no: str,
    private_key: rsa.RSAPrivateKey,
    method: str,
    path: str,
    body: str,
    timestamp: str,
    nonce_str: str,
) -> str:
    signature = sign(private_key, request_message(method, path, timestamp, nonce_str, body))
    return (
        f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce_str}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def parse_authorization(header: str) -> dict[str, str] | None:
    """The fields of an Authorization header, or None when it is not WeChat Pay's schema."""
    schema, _, rest = header.strip().partition(" ")
    if schema != SCHEMA:
        return None
    fields = dict(_AUTH_FIELD.findall(rest))
    needed = {"mchid", "nonce_str", "signature", "timestamp", "serial_no"}
    return fields if needed <= fields.keys() else None


def encrypt_resource(key: bytes, plaintext: bytes, associated_data: str) -> dict[str, str]:
    """A notification's `resource` (the simulator's side)."""
    nonce_str = secrets.token_hex(6)  # 12 characters, used as 12 bytes
    ciphertext = AESGCM(key).encrypt(nonce_str.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce_str,
    }


def decrypt_resource(key: bytes, ciphertext: str, nonce_str: str, associated_data: str) -> bytes:
    try:
        raw = base64.b64decode(ciphertext, validate=True)
        return AESGCM(key).decrypt(nonce_str.encode(), raw, associated_data.encode())
    except (InvalidTag, ValueError) as error:
        raise DecryptionFailed(type(error).__name__) from None


def rfc3339(moment: datetime) -> str:
    """WeChat Pay's time format: seconds, Beijing time with its offset."""
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def parse_rfc3339(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time without offset: {text!r}")
    return moment
