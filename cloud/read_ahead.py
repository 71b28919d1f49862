"""Reading the live cloud while the plan is still being made.

A no-change `tenant apply` spends most of its time waiting: Keystone's round trips, then Neutron answering
its lists one after another (one worker here). None of that needs the plan, only the cloud's name and the
estate's domain, so the command starts the snapshot as soon as the estate is read, and builds the plan,
checks the policy and imports the reconciler while the services answer. Only a snapshot that will be used
at once may be read ahead: one taken before a confirmation prompt could be stale when the answer comes.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cloud.live import Live


def read_ahead(cloud: str | None, domain: str) -> Future[Live]:
    """The snapshot of `domain` on `cloud`, started now in a thread; its errors come with the result."""
    snapshot: Future[Live] = Future()

    def read() -> None:
        try:
            from cloud.live import Live
            from cloud.sdk import Reader

            snapshot.set_result(Live(Reader.of_cloud(cloud), domain))
        except BaseException as exc:  # handed to whoever takes the result
            snapshot.set_exception(exc)

    threading.Thread(target=read, name="read-ahead", daemon=True).start()
    return snapshot
