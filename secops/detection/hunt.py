"""Hunting: the streaming rules run over stored history, so a hunt finds what streaming would have found.

The stored events are replayed oldest first through a fresh engine with the whole rule set (a
correlation needs the base rules it names), and the alerts of the rule asked for are kept. Both stores
export in time order, so SQLite and Elasticsearch give the alerts the live engine gave for input that
arrived in time order (within the lateness). Where the live engine got correlation input later than
its lateness (a file of last week ingested today), it counted it as late; a hunt sees it in order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from secops.detection.alerts import Alert
from secops.detection.engine import Engine, EngineOptions
from secops.detection.ruleset import RuleSet
from secops.events import Event, get
from secops.store.base import Query, Store

HUNT_BATCH = 1000
"""Stored events per `Engine.process_batch` call."""


class UnknownRuleError(LookupError):
    """No loaded rule or correlation has that id, name or title; the message says where to look."""


def rule_names(ruleset: RuleSet) -> set[str]:
    """Every id, name and title a hunt may be asked for."""
    names: set[str] = set()
    for rule in ruleset.rules:
        names.update(n for n in (rule.ref.id, rule.ref.name, rule.ref.title) if n)
    for corr in ruleset.correlations:
        names.update(str(n) for n in (corr.id, corr.name, corr.title) if n)
    return names


def hunt(
    store: Store,
    ruleset: RuleSet,
    rule: str,
    since: datetime | None = None,
    until: datetime | None = None,
    options: EngineOptions | None = None,
) -> list[Alert]:
    """The alerts `rule` (an id, name or title) raises over the stored events in [since, until)."""
    if rule not in rule_names(ruleset):
        raise UnknownRuleError(
            f"no loaded rule or correlation is called {rule!r}; `egovops rules list` shows ids and names"
        )
    engine = Engine(ruleset, options)
    found: dict[str, Alert] = {}

    def keep(alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            if rule in (alert.rule_id, alert.rule_name, alert.title):
                found[alert.id] = alert  # a suppressed repeat comes back updated, under the same id

    batch: list[Event] = []
    for doc in store.export(Query(since=since, until=until, limit=None)):
        ident, dataset = str(get(doc, "event.id")), str(get(doc, "event.dataset"))
        batch.append(Event(ident, str(doc["@timestamp"]), dataset, doc))
        if len(batch) == HUNT_BATCH:
            keep(engine.process_batch(batch))
            batch = []
    keep(engine.process_batch(batch))
    keep(engine.flush())
    return sorted(found.values(), key=lambda a: (a.first_seen, a.id))
