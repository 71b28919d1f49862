"""Open a store by URL: `sqlite:///path/to.db` (embedded default) or `elasticsearch://host:port`
(`elasticsearchs://` for TLS)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from secops.store.base import Query, Retention, Stats, Store, StoreError, WriteResult

__all__ = ["Query", "Retention", "Stats", "Store", "StoreError", "WriteResult", "open_store"]


def open_store(url: str, *, spool_dir: Path = Path("var/spool"), index_prefix: str = "egovops") -> Store:
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy spells them.
        path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""
        if not path:
            raise StoreError(f"{url}: no database path; use sqlite:///var/egovops.db")
        from secops.store.sqlite import SQLiteStore

        return SQLiteStore(Path(path))
    if scheme in {"elasticsearch", "elasticsearchs"}:
        from secops.store.elasticsearch import ElasticsearchStore

        return ElasticsearchStore.from_url(url, spool_dir=spool_dir, prefix=index_prefix)
    raise StoreError(f"{url}: unknown store URL; use sqlite:///PATH or elasticsearch://HOST:PORT")
