"""Signing: the RFC 8037 Appendix A vectors, round trips and tampering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc.jwk import OKPKey

from popreg.exchange import crypto

VECTORS = json.loads((Path(__file__).parent.parent / "data" / "exchange" / "rfc8037_appendix_a.json").read_text())


def test_rfc8037_a4_signature_byte_for_byte():
    key = crypto.private_from_jwk(VECTORS["private_jwk"])
    token = crypto.sign_compact(key, VECTORS["protected_header"].encode(), VECTORS["payload"].encode())
    assert token == VECTORS["jws_compact"]


def test_rfc8037_a4_verifies_and_eddsa_name_is_accepted():
    pub = crypto.public_from_jwk(VECTORS["public_jwk"])
    header, payload = crypto.verify_compact(VECTORS["jws_compact"], pub)
    assert header == {"alg": "EdDSA"}
    assert payload == VECTORS["payload"].encode()


def test_rfc8037_a2_a3_public_key_and_thumbprint():
    key = crypto.private_from_jwk(VECTORS["private_jwk"])
    assert crypto.public_jwk(key.public_key()) == VECTORS["public_jwk"]
    assert crypto.thumbprint(VECTORS["public_jwk"]) == VECTORS["rfc7638_thumbprint"]
    # and the same as joserfc's own RFC 7638 implementation
    assert OKPKey.import_key(VECTORS["public_jwk"]).thumbprint() == VECTORS["rfc7638_thumbprint"]


def test_round_trip_uses_ed25519_name_and_canonical_json():
    key = Ed25519PrivateKey.generate()
    kid = crypto.thumbprint(crypto.public_jwk(key.public_key()))
    token = crypto.sign_json(key, {"b": 1, "a": "王"}, kid=kid)
    header, payload = crypto.verify_compact(token, key.public_key())
    assert header == {"alg": "Ed25519", "kid": kid}
    assert payload == '{"a":"王","b":1}'.encode()


def test_every_altered_byte_is_refused():
    key = Ed25519PrivateKey.generate()
    token = crypto.sign_json(key, {"id": "x", "n": 1}, kid="k")
    for i in range(len(token)):
        if token[i] == ".":
            continue
        for repl in ("A", "B"):
            if token[i] == repl:
                continue
            bad = token[:i] + repl + token[i + 1:]
            try:
                _h, payload = crypto.verify_compact(bad, key.public_key())
            except crypto.SignatureError:
                continue
            # base64url's last character may carry unused bits: the bytes must then be equal
            assert payload == crypto.verify_compact(token, key.public_key())[1]
            break


def test_wrong_key_and_wrong_algorithm_refused():
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    token = crypto.sign_json(key, {"a": 1}, kid="k")
    with pytest.raises(crypto.SignatureError, match="does not verify"):
        crypto.verify_compact(token, other.public_key())
    none = crypto.b64url(b'{"alg":"none"}') + "." + token.split(".")[1] + "."
    with pytest.raises(crypto.SignatureError, match="unsupported algorithm"):
        crypto.verify_compact(none, key.public_key())
    with pytest.raises(crypto.SignatureError, match="three parts"):
        crypto.verify_compact("abc", key.public_key())


def test_key_file_is_private_and_never_overwritten(tmp_path):
    key = crypto.create_private_key(tmp_path / "k")
    path = crypto.key_path(tmp_path / "k")
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o700
    loaded = crypto.load_private_key(tmp_path / "k")
    assert loaded is not None
    assert crypto.public_jwk(loaded.public_key()) == crypto.public_jwk(key.public_key())
    with pytest.raises(FileExistsError):
        crypto.create_private_key(tmp_path / "k")
