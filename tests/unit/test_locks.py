"""Owner tokens name their holder (`<host>:<pid>:<random>`): what the worker pool reads to free
a dead worker's locks and lane batons, and nothing else's."""

from __future__ import annotations

import os
import socket

from server.state.locks import holder, holder_of, new_token


def test_a_token_names_this_process():
    token = new_token()
    assert holder_of(token) == holder() == f"{socket.gethostname()}:{os.getpid()}"
    assert token != new_token()  # fresh every time: a re-taken key never has the old token


def test_the_holder_is_everything_before_the_random_part():
    assert holder_of("worker-7:4242:9f86d081884c7d65") == "worker-7:4242"
    assert holder_of("worker-7:4242:9f86d081884c7d65") != "worker-7:424"
    assert holder(42) == f"{socket.gethostname()}:42"


def test_a_token_without_a_holder_names_none():
    """Tokens of an older version (a bare uuid) or made up by hand are never a dead holder's:
    they only expire."""
    assert holder_of("9f86d081884c7d659a2feaa0c55ad015") == ""
    assert holder_of("") == ""
