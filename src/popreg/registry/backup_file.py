"""The backup file (备份文件): header, manifest and payload, optionally encrypted.

::

    b"POPRGBAK" | version (1 byte) | mode (1 byte: 0 plain, 1 encrypted) | [salt 16 | nonce prefix 8]
    body = manifest length (4 bytes, big-endian) | manifest (JSON, UTF-8) | payload

The manifest carries the payload's size and SHA-256, so a cut or altered plain file is
refused.  Encrypted (a passphrase, ``POPREG_BACKUP_KEY``): the body is sealed with
AES-256-GCM (the ``cryptography`` package) in 1 MiB records, the key derived with scrypt and
a random salt.  Each record's nonce counts up and its associated data carries the header,
the record number and whether it is the last one, so a reordered, altered or cut file is
refused.  A first record of known text tells a wrong key apart from a damaged file.

What goes into the manifest and the payload is :mod:`popreg.registry.backup`'s business.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from popreg.registry.errors import RegistryError

FORMAT = "popreg-backup"
FORMAT_VERSION = 1
MAGIC = b"POPRGBAK"
_PLAIN, _ENCRYPTED = 0, 1
_SALT_LEN, _PREFIX_LEN = 16, 8
_RECORD = 1 << 20  # plaintext bytes per encrypted record
_KEY_CHECK = b"popreg-backup key check"


class BackupError(RegistryError):
    """A backup that cannot be made or a file that cannot be restored (says why, in both languages)."""


def _derive(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode("utf-8"))


def _record_aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">QB", index, 1 if final else 0)


class _EncryptingWriter:
    """Cuts the body into AES-GCM records; :meth:`close` seals the last one."""

    def __init__(self, out: IO[bytes], header: bytes, key: bytes, prefix: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._out, self._header, self._prefix = out, header, prefix
        self._aead = AESGCM(key)
        self._buf = bytearray()
        self._index = 0
        self._emit(_KEY_CHECK, final=False)

    def _emit(self, data: bytes, final: bool) -> None:
        nonce = self._prefix + struct.pack(">I", self._index)
        sealed = self._aead.encrypt(nonce, data, _record_aad(self._header, self._index, final))
        self._out.write(struct.pack(">I", len(sealed)) + sealed)
        self._index += 1

    def write(self, data: bytes) -> None:
        self._buf += data
        while len(self._buf) > _RECORD:
            self._emit(bytes(self._buf[:_RECORD]), final=False)
            del self._buf[:_RECORD]

    def close(self) -> None:
        self._emit(bytes(self._buf), final=True)
        self._buf.clear()


def _damaged(zh: str, en: str) -> BackupError:
    return BackupError(
        f"备份文件已损坏或不完整（{zh}），无法恢复；请换用另一份备份。",
        f"the backup file is damaged or incomplete ({en}) and cannot be restored; use another backup",
    )


def _decrypting_chunks(f: IO[bytes], header: bytes, key: bytes, prefix: bytes) -> Iterator[bytes]:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(key)
    index = 0
    while True:
        size = f.read(4)
        if len(size) < 4:
            raise _damaged("文件在中途结束", "the file ends early")
        sealed = f.read(struct.unpack(">I", size)[0])
        nonce = prefix + struct.pack(">I", index)
        plain = None
        for final in (False, True):
            try:
                plain = aead.decrypt(nonce, sealed, _record_aad(header, index, final))
            except InvalidTag:
                continue
            break
        if plain is None:
            if index == 0:
                raise BackupError(
                    "备份密钥不正确：POPREG_BACKUP_KEY 与制作这份备份时的密钥不同（也可能是文件开头已损坏）。",
                    "wrong backup key: POPREG_BACKUP_KEY is not the key this backup was made with "
                    "(or the start of the file is damaged)",
                )
            raise _damaged(f"第 {index} 块校验失败", f"record {index} fails its check")
        if index == 0:
            if plain != _KEY_CHECK:
                raise _damaged("密钥校验块不符", "key check record differs")
        else:
            yield plain
        index += 1
        if final:
            if f.read(1):
                raise _damaged("结尾后还有数据", "data after the last record")
            return


class _ChunkReader:
    """``read(n)`` over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def read(self, n: int) -> bytes:
        while len(self._buf) < n:
            nxt = next(self._chunks, None)
            if nxt is None:
                break
            self._buf += nxt
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


def _header(mode: int, extra: bytes = b"") -> bytes:
    return MAGIC + bytes([FORMAT_VERSION, mode]) + extra


def write_container(out: Path, manifest: dict[str, Any], payload: Path, key: str | None) -> None:
    """Write header, manifest and payload to ``out`` (through a temporary name, then renamed)."""
    body_head = json.dumps(manifest, ensure_ascii=False, sort_keys=True).encode("utf-8")
    partial = out.with_name(out.name + ".partial")
    try:
        with open(partial, "wb") as f:
            if key:
                salt, prefix = secrets.token_bytes(_SALT_LEN), secrets.token_bytes(_PREFIX_LEN)
                header = _header(_ENCRYPTED, salt + prefix)
                f.write(header)
                sink: Any = _EncryptingWriter(f, header, _derive(key, salt), prefix)
            else:
                f.write(_header(_PLAIN))
                sink = f
            sink.write(struct.pack(">I", len(body_head)) + body_head)
            with open(payload, "rb") as p:
                while block := p.read(_RECORD):
                    sink.write(block)
            if key:
                sink.close()
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def _open_body(f: IO[bytes], key: str | None) -> tuple[Any, bool]:
    head = f.read(len(MAGIC) + 2)
    if len(head) < len(MAGIC) + 2 or head[: len(MAGIC)] != MAGIC:
        raise BackupError(
            "这不是 popreg 备份文件（文件头不符）。",
            "this is not a popreg backup file (wrong header)",
        )
    version, mode = head[len(MAGIC)], head[len(MAGIC) + 1]
    if version > FORMAT_VERSION:
        raise BackupError(
            f"备份文件格式版本 {version} 比本程序支持的 {FORMAT_VERSION} 新；请用较新的 popreg 恢复。",
            f"backup format version {version} is newer than the {FORMAT_VERSION} this popreg reads; "
            "restore it with a newer popreg",
        )
    if mode == _PLAIN:
        return f, False
    if mode != _ENCRYPTED:
        raise _damaged(f"未知模式 {mode}", f"unknown mode {mode}")
    extra = f.read(_SALT_LEN + _PREFIX_LEN)
    if len(extra) < _SALT_LEN + _PREFIX_LEN:
        raise _damaged("文件头不完整", "header cut short")
    if not key:
        raise BackupError(
            "这份备份已加密：请把制作备份时的密钥设为 POPREG_BACKUP_KEY 后再恢复。",
            "this backup is encrypted: set POPREG_BACKUP_KEY to the key it was made with, then restore",
        )
    salt, prefix = extra[:_SALT_LEN], extra[_SALT_LEN:]
    chunks = _decrypting_chunks(f, head + extra, _derive(key, salt), prefix)
    return _ChunkReader(chunks), True


def _read_manifest(body: Any) -> dict[str, Any]:
    size = body.read(4)
    if len(size) < 4:
        raise _damaged("没有清单", "no manifest")
    raw = body.read(struct.unpack(">I", size)[0])
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _damaged("清单无法读取", "manifest unreadable") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _damaged("清单不是 popreg 备份清单", "not a popreg backup manifest")
    return manifest


def read_backup(path: Path, key: str | None, payload_out: Path | None = None) -> dict[str, Any]:
    """Read and check the whole file: returns the manifest; writes the payload to ``payload_out``.

    The payload's size and SHA-256 are checked against the manifest (and, when encrypted,
    every record's tag), so nothing is restored from a damaged or cut file.
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, the body reader borrows it
    except OSError as exc:
        raise BackupError(f"无法打开备份文件 {path}：{exc}", f"cannot open backup file {path}: {exc}") from None
    with f:
        body, _ = _open_body(f, key)
        manifest = _read_manifest(body)
        digest, size = hashlib.sha256(), 0
        sink = open(payload_out, "wb") if payload_out else None  # noqa: SIM115
        try:
            while block := body.read(_RECORD):
                digest.update(block)
                size += len(block)
                if sink:
                    sink.write(block)
        finally:
            if sink:
                sink.close()
    expected = manifest.get("payload", {})
    if size != expected.get("size") or digest.hexdigest() != expected.get("sha256"):
        raise _damaged(
            f"数据 {size:,} 字节，清单记载 {expected.get('size', 0):,} 字节或校验和不同",
            f"payload {size:,} bytes, manifest says {expected.get('size', 0):,} or its SHA-256 differs",
        )
    return manifest
