"""Ed25519 keys and JWS compact serialisation (RFC 7515, RFC 8037, RFC 9864).

Signing uses :mod:`cryptography` directly so that the bytes are under our control: the
protected header is canonical JSON (RFC 8785), the signature covers
``BASE64URL(header) || '.' || BASE64URL(payload)``.  New tokens carry ``"alg": "Ed25519"``
(RFC 9864); on reading, the older name ``"EdDSA"`` (RFC 8037) is accepted too, since it
names the same algorithm for an Ed25519 key.

No Django here: the key directory is passed in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG = "Ed25519"
ACCEPTED_ALGS = frozenset({"Ed25519", "EdDSA"})
KEY_FILE = "exchange-ed25519.pem"


class SignatureError(Exception):
    """A token that is malformed or whose signature does not verify (zh + en)."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not text or any(c not in _B64URL for c in text) or len(text) % 4 == 1:
        raise SignatureError("签名消息的编码不正确", "the token is not valid base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def canonical(obj: Any) -> bytes:
    """RFC 8785 canonical JSON of ``obj``."""
    return bytes(rfc8785.dumps(obj))


# --------------------------------------------------------------------------- keys


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}


def private_from_jwk(jwk: dict[str, str]) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(b64url_decode(jwk["d"]))


def public_from_jwk(jwk: dict[str, Any]) -> Ed25519PublicKey:
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise SignatureError("公钥不是 Ed25519 密钥", "the public key is not an Ed25519 key")
    x = b64url_decode(str(jwk.get("x", "")))
    if len(x) != 32:
        raise SignatureError("公钥长度不正确", "the public key has the wrong length")
    return Ed25519PublicKey.from_public_bytes(x)


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint (SHA-256) of an OKP public key: its required members only, in
    lexicographic order, no whitespace."""
    members = {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}
    return b64url(hashlib.sha256(canonical(members)).digest())


def key_path(key_dir: str | os.PathLike[str]) -> Path:
    return Path(key_dir) / KEY_FILE


def load_private_key(key_dir: str | os.PathLike[str]) -> Ed25519PrivateKey | None:
    path = key_path(key_dir)
    if not path.exists():
        return None
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError("密钥文件不是 Ed25519 私钥", "the key file is not an Ed25519 private key")
    return key


def create_private_key(key_dir: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Create the key file (mode 0600, directory 0700); refuse to overwrite one."""
    directory = Path(key_dir)
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_path(directory), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


# --------------------------------------------------------------------------- JWS


def sign_compact(key: Ed25519PrivateKey, header: bytes, payload: bytes) -> str:
    """JWS compact serialisation of ``payload`` under the protected ``header`` (bytes as
    given: the RFC 8037 vector's header is not canonical JSON)."""
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"


def sign_json(key: Ed25519PrivateKey, obj: Any, *, kid: str) -> str:
    """Sign ``obj`` as canonical JSON with ``{"alg": "Ed25519", "kid": kid}``."""
    return sign_compact(key, canonical({"alg": ALG, "kid": kid}), canonical(obj))


def split_compact(token: str) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    """(header, payload, signature, signing input) of a compact JWS, unverified."""
    if not isinstance(token, str) or len(token) > 2_000_000:
        raise SignatureError("签名消息为空或过长", "the token is empty or too long")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise SignatureError("签名消息不是 JWS 紧凑格式（应有三段）", "the token is not a compact JWS (three parts)")
    try:
        header = json.loads(b64url_decode(parts[0]))
    except (ValueError, UnicodeDecodeError):
        raise SignatureError("签名消息的头部不是 JSON", "the token's header is not JSON") from None
    if not isinstance(header, dict):
        raise SignatureError("签名消息的头部不是 JSON 对象", "the token's header is not a JSON object")
    if header.get("alg") not in ACCEPTED_ALGS:
        raise SignatureError(
            f"不支持的签名算法 {str(header.get('alg'))[:20]}（应为 Ed25519）",
            f"unsupported algorithm {str(header.get('alg'))[:20]} (expected Ed25519)",
        )
    if "crit" in header:
        raise SignatureError("签名消息含有不支持的关键头部", "the token has critical header members we do not support")
    payload = b64url_decode(parts[1]) if parts[1] else b""
    signature = b64url_decode(parts[2])
    return header, payload, signature, f"{parts[0]}.{parts[1]}".encode("ascii")


def verify_compact(token: str, key: Ed25519PublicKey) -> tuple[dict[str, Any], bytes]:
    """Verify ``token`` with ``key``; return (header, payload bytes) or raise."""
    header, payload, signature, signing_input = split_compact(token)
    try:
        key.verify(signature, signing_input)
    except InvalidSignature:
        raise SignatureError("签名验证失败（消息被篡改或密钥不符）", "the signature does not verify (altered message or wrong key)") from None
    return header, payload


def unverified_json(token: str) -> tuple[dict[str, Any], Any]:
    """Header and decoded JSON payload, NOT verified (to find out who claims to sign it)."""
    header, payload, _sig, _input = split_compact(token)
    try:
        return header, json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise SignatureError("签名消息的内容不是 JSON", "the token's payload is not JSON") from None
