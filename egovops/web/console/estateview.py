"""The estate as the admin pages show it: read from the configured estate file on each view (it is
small, and an edit shows without a restart), with the file's own error lines when it does not load."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from egovops.estate import Estate, EstateError, load_estate
from network.estate import Network, parse_network


@dataclass(frozen=True)
class EstateView:
    path: Path | None
    estate: Estate | None = None
    network: Network | None = None
    problems: list[str] = field(default_factory=list)


def read_estate(path: Path | None) -> EstateView:
    """The estate and its network section; `problems` names file, line and fix when either is wrong."""
    if path is None:
        return EstateView(None)
    try:
        estate = load_estate(path)
    except EstateError as exc:
        return EstateView(path, problems=exc.problems)
    if estate.network is None:
        return EstateView(path, estate)
    try:
        network = parse_network(path.read_text(encoding="utf-8"), str(path))
    except EstateError as exc:
        return EstateView(path, estate, problems=exc.problems)
    return EstateView(path, estate, network)
