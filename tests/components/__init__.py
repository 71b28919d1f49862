"""Real components the suite runs against, and the rule for when one is missing.

Locally a missing program skips its tests with the command that installs it; under CI=true it fails,
because a suite that silently skips its real components proves nothing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPORA = SHARED / "corpora"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(what: str, install: str) -> None:
    """Skip (locally) or fail (under CI=true) because `what` is not available."""
    message = f"{what} is not available; install it with: {install}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def require_binary(name: str, install: str, *candidates: str) -> str:
    """Path of a program on PATH (or at one of `candidates`), else skip/fail with the install command."""
    found = shutil.which(name)
    if found:
        return found
    for candidate in candidates:
        if Path(candidate).exists():
            return candidate
    missing(name, install)
    raise AssertionError("unreachable")


def corpus(*parts: str) -> Path:
    """A path inside ../shared/corpora, read in place; fail or skip when the corpora are absent."""
    path = CORPORA.joinpath(*parts)
    if not path.exists():
        missing(f"corpus {path}", "check out ../shared beside the repository")
    return path
