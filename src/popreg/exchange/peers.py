"""Who we are and whom we trust (reads; the writes are in :mod:`popreg.exchange.actions`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from popreg.exchange import crypto
from popreg.exchange.models import LocalIdentity, Peer
from popreg.registry.errors import RegistryError


class ExchangeError(RegistryError):
    """A refused exchange operation (Chinese + English, naming what to fix)."""


def no_identity() -> ExchangeError:
    return ExchangeError(
        "本部署尚未建立交换身份：请先运行 popreg exchange identity --code 代码 --url 网址 --out 文件",
        "this deployment has no exchange identity yet: run popreg exchange identity --code CODE --url URL --out FILE first",
        "identity",
    )


#: Inside :func:`cached`: this deployment's identity and the peers, read once.
_CACHE: ContextVar[dict[str, Any] | None] = ContextVar("exchange_peers_cache", default=None)


@contextmanager
def cached() -> Iterator[None]:
    """Read the identity and each peer at most once inside the block (one bundle import, one
    delivery run, one request to the inbox): the same answers, fewer queries.  Outside such
    a block every call reads the database."""
    token = _CACHE.set({} if _CACHE.get() is None else _CACHE.get())
    try:
        yield
    finally:
        _CACHE.reset(token)


def local_identity() -> LocalIdentity | None:
    cache = _CACHE.get()
    if cache is None:
        return LocalIdentity.objects.filter(pk=1).first()
    if "identity" not in cache:
        cache["identity"] = LocalIdentity.objects.filter(pk=1).first()
    ident: LocalIdentity | None = cache["identity"]
    return ident


def local_code() -> str:
    """This deployment's code (its county's division code)."""
    ident = local_identity()
    if ident is None:
        raise no_identity()
    return ident.code


def signing_key() -> tuple[Ed25519PrivateKey, str]:
    """This deployment's private key and its thumbprint (the ``kid`` of what it signs)."""
    ident = local_identity()
    if ident is None:
        raise no_identity()
    key = _load_key(settings.POPREG_EXCHANGE_KEY_DIR)
    if key is None:
        raise ExchangeError(
            "找不到本部署的交换私钥（POPREG_EXCHANGE_KEY_DIR 目录中没有密钥文件）",
            "this deployment's exchange private key is missing (no key file in POPREG_EXCHANGE_KEY_DIR)",
            "POPREG_EXCHANGE_KEY_DIR",
        )
    if _thumbprint_of(key) != ident.thumbprint:
        raise ExchangeError(
            "POPREG_EXCHANGE_KEY_DIR 中的私钥与本部署登记的公钥不符",
            "the private key in POPREG_EXCHANGE_KEY_DIR does not match this deployment's public key",
            "POPREG_EXCHANGE_KEY_DIR",
        )
    return key, ident.thumbprint


_KEY_CACHE: dict[tuple[str, int, int], Ed25519PrivateKey] = {}


_THUMBS: dict[int, str] = {}


def _thumbprint_of(key: Ed25519PrivateKey) -> str:
    if id(key) not in _THUMBS:
        _THUMBS.clear()
        _THUMBS[id(key)] = crypto.thumbprint(crypto.public_jwk(key.public_key()))
    return _THUMBS[id(key)]


def _load_key(key_dir: Path) -> Ed25519PrivateKey | None:
    """The private key, read once per process (again when the file changes)."""
    path = crypto.key_path(key_dir)
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    cache_key = (str(path), st.st_mtime_ns, st.st_size)
    if cache_key not in _KEY_CACHE:
        key = crypto.load_private_key(key_dir)
        if key is None:
            return None
        _KEY_CACHE.clear()
        _KEY_CACHE[cache_key] = key
    return _KEY_CACHE[cache_key]


def trusted_peers() -> list[Peer]:
    return list(Peer.objects.order_by("code"))


def peer(code: str) -> Peer | None:
    """The trusted peer of ``code`` (None if there is none)."""
    cache = _CACHE.get()
    if cache is None:
        return Peer.objects.filter(code=code).first()
    key = f"peer:{code}"
    if key not in cache:
        cache[key] = Peer.objects.filter(code=code).first()
    found: Peer | None = cache[key]
    return found


def peer_for_unit(code: str) -> Peer | None:
    """The trusted peer whose code is the longest prefix of the unit ``code``."""
    code = str(code or "")
    best: Peer | None = None
    for p in Peer.objects.all():
        if code.startswith(p.code) and (best is None or len(p.code) > len(best.code)):
            best = p
    return best
