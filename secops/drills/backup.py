"""A sealed backup set: a directory of SM4-GCM sealed files, each with its SM3 digest in a manifest.

Files are sealed as streams of chunks (`egovops.security.sealed.seal_stream`) while their digest is
taken, so a store larger than memory is never held whole, and `check_file` opens them again into a
digest only, which is how a backup is proven readable before anything is destroyed. SQLite files are
copied with the online backup API first, so a store in use is copied consistently, page by page.
"""

from __future__ import annotations

import fcntl
import io
import os
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from pydantic import BaseModel

from egovops.security.sealed import (
    Readable,
    SealingKey,
    SecretsError,
    Writable,
    seal_stream,
    unseal_stream,
)
from secops.store import StoreError

SEALED_SUFFIX = ".sm4"
PAGES_PER_STEP = 4096
"""SQLite pages copied per step of the online backup: writers get the lock back between steps."""


class BackupError(StoreError):
    """A backup cannot be made, opened or trusted; the message names the file and what to do."""


class BackupFile(BaseModel):
    """One sealed file of a set: its name in the set, where it came from, its size, mode and digest."""

    name: str
    source: str
    bytes: int
    mode: int
    sm3: str


class DigestReader:
    """A file read through, with the SM3 digest of what was read."""

    def __init__(self, inner: Readable) -> None:
        self.inner = inner
        self.digest = hashes.Hash(hashes.SM3())

    def read(self, size: int, /) -> bytes:
        data = self.inner.read(size)
        self.digest.update(data)
        return data


class DigestWriter:
    """A sink that keeps only the SM3 digest and length of what is written to it (and maybe the data)."""

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner
        self.digest = hashes.Hash(hashes.SM3())
        self.bytes = 0

    def write(self, data: bytes, /) -> int:
        self.digest.update(data)
        self.bytes += len(data)
        if self.inner is not None:
            self.inner.write(data)
        return len(data)


def sealed_path(root: Path, name: str) -> Path:
    return root / (name + SEALED_SUFFIX)


def seal_file(
    key: SealingKey, root: Path, name: str, source: Path, stream: Readable | None = None
) -> BackupFile:
    """Seal `source` (or `stream`, already open on it) into the set at `root` as `name`."""
    target = sealed_path(root, name)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        with _private(target) as out, ExitStack() as stack:
            reader = DigestReader(stream or stack.enter_context(source.open("rb")))
            size = seal_stream(key, reader, out, name)
        mode = source.stat().st_mode & 0o777
    except OSError as exc:
        raise BackupError(f"{source}: cannot back it up as {target}: {exc.strerror}") from exc
    digest = reader.digest.finalize().hex()
    return BackupFile(name=name, source=str(source), bytes=size, mode=mode, sm3=digest)


def check_file(key: SealingKey, root: Path, entry: BackupFile) -> None:
    """Open one sealed file into its digest only; BackupError unless it opens and matches the manifest."""
    _open_into(key, root, entry, DigestWriter())


def restore_file(key: SealingKey, root: Path, entry: BackupFile, target: Path) -> None:
    """Unseal `entry` to `target` with its old mode; written beside it first and moved in when whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.restoring")
    try:
        with _private(partial) as out:
            _open_into(key, root, entry, DigestWriter(out))
        partial.chmod(entry.mode)
        partial.replace(target)
    except OSError as exc:
        raise BackupError(f"cannot restore {entry.name} to {target}: {exc.strerror}") from exc
    finally:
        partial.unlink(missing_ok=True)


def seal_bytes(key: SealingKey, root: Path, name: str, data: bytes) -> None:
    """Seal a small document (the manifest) into the set."""
    with _private(sealed_path(root, name)) as out:
        seal_stream(key, io.BytesIO(data), out, name)


def open_bytes(key: SealingKey, root: Path, name: str) -> bytes:
    buffer = io.BytesIO()
    _unseal(key, sealed_path(root, name), name, buffer)
    return buffer.getvalue()


def _open_into(key: SealingKey, root: Path, entry: BackupFile, sink: DigestWriter) -> None:
    path = sealed_path(root, entry.name)
    _unseal(key, path, entry.name, sink)
    digest = sink.digest.finalize().hex()
    if digest != entry.sm3 or sink.bytes != entry.bytes:
        raise BackupError(
            f"{path}: opens, but its content ({sink.bytes} bytes) is not what the manifest records "
            f"({entry.bytes} bytes, SM3 {entry.sm3[:16]}…); the manifest or the file was replaced"
        )


def _unseal(key: SealingKey, path: Path, name: str, sink: Writable) -> None:
    try:
        with path.open("rb") as sealed:
            unseal_stream(key, sealed, sink, name)
    except FileNotFoundError as exc:
        raise BackupError(f"{path}: missing from the backup set; the backup is incomplete") from exc
    except SecretsError as exc:
        raise BackupError(f"{path}: {exc}") from exc


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database through the online backup API (readable by us only)."""
    if not source.is_file():
        raise BackupError(f"{source}: no such database to back up")
    target.unlink(missing_ok=True)
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
            src.execute("PRAGMA busy_timeout=30000")
            src.backup(dst, pages=PAGES_PER_STEP)
            dst.execute("PRAGMA journal_mode=DELETE")  # a single file to seal; the store sets WAL again
    except sqlite3.Error as exc:
        raise BackupError(f"{source}: the online backup failed: {exc}") from exc


@contextmanager
def shared_lock(path: Path) -> Iterator[Any]:
    """The file open for reading under a shared lock: appenders that lock (the audit trail) wait."""
    with path.open("rb") as file:
        fcntl.flock(file, fcntl.LOCK_SH)
        yield file


def remove_sqlite(path: Path) -> None:
    """Delete a SQLite database with its WAL and shared-memory files."""
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        part.unlink(missing_ok=True)


@contextmanager
def _private(path: Path) -> Iterator[Any]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        yield file
        file.flush()
        os.fsync(file.fileno())
