"""The engine's batch-sized young generation: set inside the block, restored after, left alone when off."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from secops.detection.collector import young_generation


@pytest.fixture()
def thresholds() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*saved)


def test_threshold_is_raised_inside_and_restored_after(thresholds: tuple[int, int, int]) -> None:
    with young_generation(5000):
        inside = gc.get_threshold()
        with young_generation(5000):  # a nested block (or another thread's) leaves it to the outer one
            nested = gc.get_threshold()
        after_nested = gc.get_threshold()
    assert inside == (5000, 10, 10)
    assert nested == after_nested == (5000, 10, 10)
    assert gc.get_threshold() == thresholds


def test_restored_when_the_block_raises(thresholds: tuple[int, int, int]) -> None:
    with pytest.raises(KeyError), young_generation(5000):
        raise KeyError("x")
    assert gc.get_threshold() == thresholds


def test_collection_switched_off_stays_off(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(0, 10, 10)
    with young_generation(5000):
        inside = gc.get_threshold()
    assert inside == (0, 10, 10)
    assert gc.get_threshold() == (0, 10, 10)
