"""Fixtures of the exchange transport tests: two identities and a trusted peer, keys in
temporary directories (never the real POPREG_EXCHANGE_KEY_DIR)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from popreg.exchange import crypto
from popreg.exchange.messages import Message, new_id

HERE = "110105"  # the county of tests/conftest.py
PEER = "330102"
STRANGER = "440103"


@dataclass
class Remote:
    """Another deployment, played by the test: its code, key and identity document."""

    code: str
    key: Ed25519PrivateKey
    url: str = "http://127.0.0.1:9/"

    @property
    def jwk(self) -> dict[str, str]:
        return crypto.public_jwk(self.key.public_key())

    @property
    def kid(self) -> str:
        return crypto.thumbprint(self.jwk)

    def identity(self) -> dict[str, Any]:
        return {"kind": "popreg-exchange-identity", "v": 1, "code": self.code, "url": self.url,
                "public_jwk": self.jwk, "thumbprint": self.kid}

    def sign(self, msg: Message | dict[str, Any]) -> str:
        obj = msg.as_json() if isinstance(msg, Message) else msg
        return crypto.sign_json(self.key, obj, kid=self.kid)

    def bundle(self, tokens: list[str], *, recipient: str = HERE) -> str:
        from django.utils import timezone

        from popreg.exchange.messages import iso

        return crypto.sign_json(self.key, {"v": 1, "kind": "bundle", "id": new_id(), "sender": self.code,
                                           "recipient": recipient, "created": iso(timezone.now()),
                                           "messages": tokens}, kid=self.kid)

    def message(self, type: str = "migrant_registered", *, recipient: str = HERE, subject=None,
                payload=None, created=None, in_reply_to=None, mid=None) -> Message:
        from django.utils import timezone

        return Message(
            id=mid or new_id(), sender=self.code, recipient=recipient, type=type,
            created=created or timezone.now(),
            subject=subject if subject is not None else {"id_number": "330102199001011234", "name": "王芳"},
            payload=payload if payload is not None else {"residence_unit": "110105001001"},
            in_reply_to=in_reply_to,
        )


@pytest.fixture
def key_dir(tmp_path, settings):
    settings.POPREG_EXCHANGE_KEY_DIR = tmp_path / "keys"
    return settings.POPREG_EXCHANGE_KEY_DIR


@pytest.fixture
def here(db, key_dir):
    """This deployment's identity (code 110105)."""
    from popreg.exchange.actions import do_create_identity
    from popreg.registry.access import system_actor

    ident, _ = do_create_identity(system_actor(), code=HERE, url="http://127.0.0.1:8000/")
    return ident


@pytest.fixture
def remote():
    return Remote(PEER, Ed25519PrivateKey.generate())


@pytest.fixture
def stranger():
    return Remote(STRANGER, Ed25519PrivateKey.generate())


@pytest.fixture
def peer(here, remote):
    from popreg.exchange.actions import do_trust_peer
    from popreg.registry.access import system_actor

    p, _ = do_trust_peer(system_actor(), remote.identity())
    return p


@pytest.fixture
def no_handlers(monkeypatch):
    """No message type has a handler (the transport is tested without the semantics);
    the registrations are put back afterwards."""
    from popreg.exchange import handlers

    monkeypatch.setattr(handlers, "_HANDLERS", {})


@pytest.fixture
def recording_handler(no_handlers):
    """A handler for migrant_registered that only records what it got."""
    from popreg.exchange import handlers
    from popreg.exchange.handlers import Outcome

    seen: list[str] = []

    def handle(actor, message):
        seen.append(message.message_id)
        return Outcome("applied", {"seen": len(seen)})

    handlers.register("migrant_registered", handle)
    return seen
