"""Type stubs of the native ingest core (Rust, PyO3); see native/src and secops/sources/base.py."""

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

__version__: Final[str]

_Batch = tuple[list[tuple[str, str, str, str, str | None]], list[tuple[int, str, bytes]]]

class _Parser:
    def __init__(
        self,
        *,
        id_prefix: str,
        label: str,
        observer: str,
        keep_original: bool,
        dataset: str,
        timezone: str = "Asia/Shanghai",
    ) -> None: ...
    def feed(self, offset: int, data: bytes) -> _Batch: ...
    def finish(self) -> _Batch: ...
    def pending_offset(self) -> int | None: ...

class SuricataParser(_Parser):
    def feed_rows(self, offset: int, data: bytes) -> tuple[Rows, list[tuple[int, str, bytes]]]: ...

class Rows:
    """A block's events kept in Rust for `SQLiteWriter.write`."""

    def __len__(self) -> int: ...
    def datasets(self) -> dict[str, int]: ...
    def tuples(self) -> list[tuple[str, str, str, str, str | None]]: ...

class SQLiteWriter:
    """A second connection to a store file, through the system SQLite `_sqlite3` also uses."""

    def __init__(self, path: str) -> None: ...
    def write(self, batches: list[Rows], addresses: bool) -> tuple[int, int]: ...
    def close(self) -> None: ...
    @staticmethod
    def library() -> tuple[str, str]: ...

class ModSecurityParser(_Parser):
    def __init__(
        self,
        *,
        id_prefix: str,
        label: str,
        observer: str,
        keep_original: bool,
        dataset: str,
        timezone: str = "Asia/Shanghai",
        reference: Callable[[bytes], list[str]] | None = None,
    ) -> None: ...
    def normalise(self, raw: bytes) -> list[str]: ...
    def reads_natively(self, raw: bytes) -> bool: ...
class AuditdParser(_Parser): ...

def suricata_normalise(raw: bytes, timezone: str = "Asia/Shanghai") -> list[str]: ...
def auditd_normalise(raw: bytes) -> list[str]: ...
def fts_texts(rows: Iterable[tuple[str, str, str, str, str | None]]) -> list[str | None]: ...

class Matcher:
    """Sigma rules compiled by `secops.detection.native`, matched on events' JSON text."""

    def __init__(
        self,
        plan: str,
        fallbacks: list[Callable[[dict[str, Any]], bool]],
        decode: Callable[[str], dict[str, Any]],
        project: list[str],
    ) -> None: ...
    @property
    def fallback_leaves(self) -> int: ...
    @property
    def datasets(self) -> list[str]: ...
    def match_batch(
        self, datasets: list[str], texts: list[str], stamps: list[str]
    ) -> tuple[list[tuple[int, list[int], dict[str, Any], float, float]], float]: ...
    def correlate_batch(
        self,
        correlator: Correlator,
        datasets: list[str],
        texts: list[str],
        stamps: list[str],
        events: Sequence[Any],
    ) -> tuple[list[Any], list[tuple[Any, ...]]]: ...

class Correlator:
    """Correlation windows kept natively (`secops.detection.correlate_native`), fed by `Matcher`; makes
    the alerts too: `alerts` is (the `Alert` class, rule specs, correlation specs)."""

    clock: tuple[float, float]
    def __init__(
        self, plan: str, seconds: Callable[[str], float], alerts: tuple[type, list[Any], list[Any]]
    ) -> None: ...
    def advance(self, mark: float) -> tuple[list[Any], list[tuple[Any, ...]]]: ...
    def counters(self) -> list[tuple[str, int]]: ...
    def set_counter(self, name: str, value: int) -> None: ...
    def windows(self) -> list[tuple[int, list[Any], float, list[tuple[float, int, Any, list[str]]]]]: ...
    def load_window(self, index: int, key: Any, newest: float, entries: Any) -> None: ...
