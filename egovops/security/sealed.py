"""Secrets at rest (device passwords, cloud credentials, API keys), sealed with SM4-GCM (GB/T 32907).

The 16-byte key comes from `EGOVOPS_SECRET_KEY` (32 hex digits) or the key file (the same, made on first
use, readable by its owner only). Each secret is sealed with a fresh 96-bit nonce and its name as
associated data, so a sealed value cannot be moved to another name. The file records an identifier of
the key (an SM3 digest, not the key), so a wrong key is reported as such rather than as corruption.
Values never leave this module except through `reveal()`, which only the code that uses them calls.

Files too large to hold in memory (backups) are sealed as a stream of chunks (`seal_stream`): each chunk
has its own nonce, and its associated data binds the file's name, the chunk's position and whether it is
the last, so a chunk cannot be altered, moved, dropped or the file cut short without the tag failing.
"""

from __future__ import annotations

import base64
import os
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from secops.events import format_ts, utc_now

KEY_ENV = "EGOVOPS_SECRET_KEY"
KEY_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16
CIPHER = "SM4-GCM"
STREAM_MAGIC = b"EGOVOPS-SM4GCM-STREAM-1\n"
STREAM_CHUNK = 1 << 20
"""Plaintext bytes per sealed chunk: what one chunk costs in memory on either side."""
_CHUNK_HEAD = struct.Struct(">?I")
"""After each chunk's nonce: whether it is the last one, and the length of its ciphertext."""


class SecretsError(ValueError):
    """The key or the sealed file cannot be used; the message says which and what to do."""


@dataclass(frozen=True)
class SealingKey:
    material: bytes
    origin: str
    """Where the key came from: the variable's name or the key file's path (for messages)."""

    @property
    def key_id(self) -> str:
        digest = hashes.Hash(hashes.SM3())
        digest.update(b"egovops sealing key id\0" + self.material)
        return digest.finalize().hex()[:16]


def parse_key(text: str, origin: str) -> SealingKey:
    try:
        material = bytes.fromhex(text.strip())
    except ValueError:
        material = b""
    if len(material) != KEY_BYTES:
        raise SecretsError(f"{origin}: a sealing key is {KEY_BYTES * 2} hex digits (16 bytes)")
    return SealingKey(material, origin)


def load_key(key_file: Path, *, create: bool = False) -> SealingKey:
    """The key from EGOVOPS_SECRET_KEY, else the key file (made when `create` and it is missing)."""
    if env := os.environ.get(KEY_ENV):
        return parse_key(env, KEY_ENV)
    if not key_file.exists():
        if not create:
            raise SecretsError(
                f"{key_file}: no sealing key; set {KEY_ENV} or restore the key file (`egovops secrets set` "
                "makes one when there are no secrets yet)"
            )
        write_key(key_file, secrets.token_bytes(KEY_BYTES))
    return parse_key(key_file.read_text(encoding="ascii"), str(key_file))


def write_key(key_file: Path, material: bytes) -> None:
    key_file.parent.mkdir(parents=True, exist_ok=True)
    _write_private(key_file, (material.hex() + "\n").encode())


@dataclass(frozen=True)
class SecretInfo:
    name: str
    updated: str


class SecretBox:
    """The sealed secrets in one JSON file: {cipher, key_id, secrets: {name: {nonce, sealed, updated}}}."""

    def __init__(self, path: Path, key: SealingKey, clock: Callable[[], Any] = utc_now) -> None:
        self.path = path
        self.key = key
        self.clock = clock

    def names(self) -> list[SecretInfo]:
        entries = self._load()["secrets"]
        return [SecretInfo(name, entry["updated"]) for name, entry in sorted(entries.items())]

    def seal(self, name: str, value: str) -> None:
        data = self._load()
        data["secrets"][name] = {**_seal(self.key, name, value.encode()), "updated": format_ts(self.clock())}
        self._save(data)

    def reveal(self, name: str) -> str:
        """The plaintext, for the code that uses the secret (never for logs or the API)."""
        entry = self._load()["secrets"].get(name)
        if entry is None:
            raise SecretsError(f"no secret {name!r}; `egovops secrets list` shows the names")
        return _unseal(self.key, name, entry).decode()

    def rotate(self, new_key: SealingKey) -> int:
        """Re-seal every secret under `new_key` (the file is replaced at once); returns how many."""
        data = self._load()
        resealed = {
            name: {**_seal(new_key, name, _unseal(self.key, name, entry)), "updated": entry["updated"]}
            for name, entry in data["secrets"].items()
        }
        self.key = new_key
        self._save({**data, "secrets": resealed})
        return len(resealed)

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"cipher": CIPHER, "key_id": self.key.key_id, "secrets": {}}
        try:
            data = orjson.loads(self.path.read_bytes())
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("secrets"), dict):
            raise SecretsError(f"{self.path}: not a sealed secrets file; restore it from a copy")
        if data.get("key_id") != self.key.key_id:
            raise SecretsError(
                f"{self.path}: sealed under another key than the one in {self.key.origin}; use the key the "
                f"secrets were sealed (or last rotated) with"
            )
        return data

    def _save(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {**data, "cipher": CIPHER, "key_id": self.key.key_id}
        _write_private(self.path, orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def _seal(key: SealingKey, name: str, plaintext: bytes) -> dict[str, str]:
    nonce = secrets.token_bytes(NONCE_BYTES)
    encryptor = Cipher(algorithms.SM4(key.material), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(name.encode())
    sealed = encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag
    return {"nonce": _b64(nonce), "sealed": _b64(sealed)}


def _unseal(key: SealingKey, name: str, entry: dict[str, str]) -> bytes:
    try:
        nonce, sealed = base64.b64decode(entry["nonce"]), base64.b64decode(entry["sealed"])
        decryptor = Cipher(algorithms.SM4(key.material), modes.GCM(nonce, sealed[-TAG_BYTES:])).decryptor()
        decryptor.authenticate_additional_data(name.encode())
        return decryptor.update(sealed[:-TAG_BYTES]) + decryptor.finalize()
    except (InvalidTag, KeyError, ValueError) as exc:
        raise SecretsError(
            f"secret {name!r} does not open under the key in {key.origin}: altered, moved from another "
            "name, or sealed under another key"
        ) from exc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _write_private(path: Path, content: bytes) -> None:
    """Write a file readable by its owner only, replacing any old one at once."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def rotate_key(box: SecretBox, key_file: Path) -> int:
    """A new random key for every secret: staged beside the key file, the secrets re-sealed under it,
    then the key file replaced (a crash in between leaves `KEYFILE.new`, which then opens them)."""
    staged = key_file.with_name(key_file.name + ".new")
    new_key = SealingKey(secrets.token_bytes(KEY_BYTES), str(staged))
    write_key(staged, new_key.material)
    count = box.rotate(new_key)
    os.replace(staged, key_file)
    box.key = SealingKey(new_key.material, str(key_file))
    return count


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


def seal_stream(
    key: SealingKey, source: Readable, target: Writable, name: str, chunk_size: int = STREAM_CHUNK
) -> int:
    """Seal everything `source` yields into `target` under `name`; returns the plaintext bytes.

    Layout: `STREAM_MAGIC`, the key id, then per chunk its nonce, last-chunk flag, ciphertext length,
    ciphertext and tag. An empty source still gets one (empty, last) chunk, so it cannot be cut off.
    """
    target.write(STREAM_MAGIC + key.key_id.encode("ascii"))
    total, index = 0, 0
    chunk = source.read(chunk_size)
    while True:
        following = source.read(chunk_size) if chunk else b""
        last = not following
        nonce = secrets.token_bytes(NONCE_BYTES)
        encryptor = Cipher(algorithms.SM4(key.material), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(_chunk_data(name, index, last))
        sealed = encryptor.update(chunk) + encryptor.finalize()
        target.write(nonce + _CHUNK_HEAD.pack(last, len(sealed)) + sealed + encryptor.tag)
        total += len(chunk)
        if last:
            return total
        chunk, index = following, index + 1


def unseal_stream(key: SealingKey, source: Readable, target: Writable, name: str) -> int:
    """Open a stream `seal_stream` made under `name`, writing each chunk once its tag holds.

    A wrong key, an altered, moved or missing chunk, or a file cut short raises `SecretsError` naming
    `name`; chunks before the bad one have been written by then, so the caller discards `target`.
    """
    head = source.read(len(STREAM_MAGIC) + len(key.key_id))
    if not head.startswith(STREAM_MAGIC):
        raise SecretsError(f"{name}: no {CIPHER} stream header; the file is not a sealed backup")
    if head[len(STREAM_MAGIC) :].decode("ascii", "replace") != key.key_id:
        raise SecretsError(
            f"{name}: sealed under another key than the one in {key.origin}; use the key it was sealed with"
        )
    total, index = 0, 0
    while True:
        frame = source.read(NONCE_BYTES + _CHUNK_HEAD.size)
        if len(frame) < NONCE_BYTES + _CHUNK_HEAD.size:
            raise SecretsError(f"{name}: cut short before chunk {index}; the sealed file is incomplete")
        nonce, (last, length) = frame[:NONCE_BYTES], _CHUNK_HEAD.unpack(frame[NONCE_BYTES:])
        body = source.read(length + TAG_BYTES)
        try:
            decryptor = Cipher(algorithms.SM4(key.material), modes.GCM(nonce, body[length:])).decryptor()
            decryptor.authenticate_additional_data(_chunk_data(name, index, last))
            plain = decryptor.update(body[:length]) + decryptor.finalize()
        except (InvalidTag, ValueError) as exc:
            raise SecretsError(
                f"{name}: chunk {index} does not open under the key in {key.origin}: altered, moved from "
                "another file or position, or cut short"
            ) from exc
        target.write(plain)
        total += len(plain)
        if last:
            if source.read(1):
                raise SecretsError(f"{name}: data after the last sealed chunk; the file was appended to")
            return total
        index += 1


def _chunk_data(name: str, index: int, last: bool) -> bytes:
    """The associated data of one chunk: the file's name, its position and whether it ends the file."""
    return name.encode() + b"\0" + struct.pack(">Q?", index, last)
