"""`server.heap`: the collector paused around the risk evaluation, the start-up heap frozen."""

from __future__ import annotations

import gc
from contextlib import ExitStack

import pytest

from server.heap import collector_paused, freeze_startup_heap


@pytest.fixture(autouse=True)
def _collector_on():
    gc.enable()
    yield
    gc.enable()


def test_paused_inside_and_back_on_after():
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_back_on_after_an_error():
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_overlapping_blocks_switch_it_on_only_when_the_last_one_ends():
    """Two greenlets: A enters, B enters, A leaves (B still inside: stays off), B leaves."""
    a, b = ExitStack(), ExitStack()
    a.enter_context(collector_paused())
    b.enter_context(collector_paused())
    a.close()
    assert not gc.isenabled()
    b.close()
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off():
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_freeze_moves_the_live_heap_out_of_every_generation():
    try:
        frozen = freeze_startup_heap()
        assert frozen == gc.get_freeze_count() > 10_000  # the app and ccxt are in it
        assert len(gc.get_objects()) < 1_000  # what a full pass still walks
    finally:
        gc.unfreeze()
