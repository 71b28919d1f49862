"""Elasticsearch snapshots for the recovery drill: taken into a filesystem repository under the node's
`path.repo`, read back from a directory the drill fills from the sealed backup.

The snapshot the node writes is sealed into the backup set and then deleted from the node, so a restore
can only come from the sealed copy: the drill proves the backup, not the node's own copy. Restores go
through a read-only repository (the node must read the files, never change them).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch
from pydantic import BaseModel

from secops.drills.backup import BackupError


class SnapshotRef(BaseModel):
    """Which snapshot of which indices, and the repository directory's name under `path.repo`."""

    name: str
    indices: list[str]


def repository_root(client: Elasticsearch) -> Path:
    """The node's first `path.repo` directory (the drill runs on the node's machine)."""
    nodes = _call(client.nodes.info, metric="settings")["nodes"]
    for node in nodes.values():
        repo = node.get("settings", {}).get("path", {}).get("repo")
        if repo:
            return Path(repo[0] if isinstance(repo, list) else repo)
    raise BackupError(
        "Elasticsearch has no path.repo; add `path.repo: [/var/backups/elasticsearch]` to elasticsearch.yml "
        "(a directory the node can write), restart it and run the drill again"
    )


def live_indices(client: Elasticsearch, patterns: list[str]) -> list[str]:
    """The indices that exist now under the store's patterns, sorted."""
    found = _call(
        client.indices.get, index=patterns, ignore_unavailable=True, allow_no_indices=True,
        expand_wildcards="open",
    )
    return sorted(found)


def take_snapshot(client: Elasticsearch, location: Path, indices: list[str]) -> SnapshotRef:
    """Snapshot `indices` into a new `fs` repository at `location` and wait until it is complete."""
    name = location.name
    _call(client.snapshot.create_repository, name=name,
          repository={"type": "fs", "settings": {"location": str(location)}})  # fmt: skip
    result = _call(
        client.snapshot.create, repository=name, snapshot=name, indices=indices,
        include_global_state=False, wait_for_completion=True,
    )["snapshot"]
    if result["state"] != "SUCCESS" or result["shards"]["failed"]:
        raise BackupError(f"snapshot {name} ended {result['state']}: {result.get('failures')}")
    return SnapshotRef(name=name, indices=sorted(result["indices"]))


def drop_repository(client: Elasticsearch, location: Path, snapshot: str | None) -> None:
    """Delete the snapshot (if named), unregister its repository and remove the directory."""
    if snapshot is not None:
        _call(client.snapshot.delete, repository=location.name, snapshot=snapshot)
    _call(client.snapshot.delete_repository, name=location.name)
    shutil.rmtree(location, ignore_errors=True)


def delete_indices(client: Elasticsearch, indices: list[str]) -> None:
    if indices:
        _call(client.indices.delete, index=indices)


def restore_snapshot(client: Elasticsearch, location: Path, snapshot: SnapshotRef) -> None:
    """Restore every index of `snapshot` from a read-only repository at `location`, waiting for it."""
    name = location.name
    _call(client.snapshot.create_repository, name=name, verify=False,
          repository={"type": "fs", "settings": {"location": str(location), "readonly": True}})  # fmt: skip
    result = _call(
        client.snapshot.restore, repository=name, snapshot=snapshot.name, indices=snapshot.indices,
        include_global_state=False, wait_for_completion=True,
    )["snapshot"]
    if result["shards"]["failed"]:
        raise BackupError(f"restoring snapshot {snapshot.name}: {result['shards']['failed']} shards failed")
    _call(client.cluster.health, index=snapshot.indices, wait_for_status="yellow", timeout="60s")
    _call(client.indices.refresh, index=snapshot.indices)


def _call(method: Any, **kwargs: Any) -> Any:
    try:
        return method(**kwargs).body
    except ApiError as exc:
        raise BackupError(f"Elasticsearch refused {method.__name__}: {exc}") from exc
    except (TransportConnectionError, ConnectionTimeout) as exc:
        raise BackupError(f"Elasticsearch is unreachable ({method.__name__}): {exc}") from exc
