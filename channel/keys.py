"""Test keys for WeChat Pay: both sides of the channel, for tests, the demo and the simulator.

Never a real account's keys: the merchant's RSA pair with a made-up certificate serial, a
stand-in "WeChat Pay platform" RSA pair with its PUB_KEY_ID_..., and a random APIv3 key.
Private files are written with mode 0600 under a directory that git ignores (data/)."""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEFAULT_DIRECTORY = Path("data/wechatpay-test-keys")
TEST_MCHID = "1900000109"
TEST_APPID = "wxd678efh567hg6787"


@dataclass(frozen=True)
class TestKeys:
    """Paths and identifiers of one set of test keys."""

    __test__ = False  # not a pytest test class despite its name

    directory: Path
    merchant_private_key: Path
    merchant_public_key: Path
    merchant_cert_serial: str
    platform_private_key: Path
    platform_public_key: Path
    platform_public_key_id: str
    apiv3_key: str
    mchid: str = TEST_MCHID
    appid: str = TEST_APPID

    def settings(self, *, gateway: str, notify_url: str) -> dict[str, str]:
        """The server's settings for these keys, by settings.Settings field name."""
        return {
            "payment_channel": "wechat",
            "wechatpay_gateway": gateway,
            "wechatpay_mchid": self.mchid,
            "wechatpay_appid": self.appid,
            "wechatpay_private_key_path": str(self.merchant_private_key.resolve()),
            "wechatpay_cert_serial": self.merchant_cert_serial,
            "wechatpay_public_key_path": str(self.platform_public_key.resolve()),
            "wechatpay_public_key_id": self.platform_public_key_id,
            "wechatpay_apiv3_key": self.apiv3_key,
            "wechatpay_notify_url": notify_url,
        }

    def env_lines(self, *, gateway: str, notify_url: str) -> list[str]:
        """The same settings as environment lines (ANFU_PAYMENT_CHANNEL is the field's alias)."""
        names = {"payment_channel": "ANFU_PAYMENT_CHANNEL"}
        return [
            f"{names.get(field, field.upper())}={value}"
            for field, value in self.settings(gateway=gateway, notify_url=notify_url).items()
        ]


def generate_test_keys(directory: Path | str = DEFAULT_DIRECTORY) -> TestKeys:
    """Write the keys into `directory` (made if needed) unless they are there; return them."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    merchant_private = root / "apiclient_key.pem"
    merchant_public = root / "apiclient_pub.pem"
    platform_private = root / "wechatpay_platform_key.pem"
    platform_public = root / "pub_key.pem"
    _key_pair(merchant_private, merchant_public)
    _key_pair(platform_private, platform_public)
    identity_file = root / "identity.json"
    if identity_file.exists():
        identity = json.loads(identity_file.read_text(encoding="utf-8"))
    else:
        alphabet = string.ascii_letters + string.digits
        identity = {
            "merchant_cert_serial": secrets.token_hex(20).upper(),
            "platform_public_key_id": f"PUB_KEY_ID_{secrets.randbelow(10**22):022d}",
            "apiv3_key": "".join(secrets.choice(alphabet) for _ in range(32)),
            "mchid": TEST_MCHID,
            "appid": TEST_APPID,
        }
        _write_private(identity_file, json.dumps(identity, indent=2).encode())
    return TestKeys(
        directory=root,
        merchant_private_key=merchant_private,
        merchant_public_key=merchant_public,
        merchant_cert_serial=identity["merchant_cert_serial"],
        platform_private_key=platform_private,
        platform_public_key=platform_public,
        platform_public_key_id=identity["platform_public_key_id"],
        apiv3_key=identity["apiv3_key"],
        mchid=identity["mchid"],
        appid=identity["appid"],
    )


def _key_pair(private_path: Path, public_path: Path) -> None:
    if private_path.exists():
        private = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        assert isinstance(private, rsa.RSAPrivateKey)
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(private_path, pem)
    if not public_path.exists():
        public_path.write_bytes(
            private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.chmod(path, 0o600)
