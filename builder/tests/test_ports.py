"""Ports for test servers: a port handed to one server is never handed to another (the suite's old flake)."""

from __future__ import annotations

import socket

import pytest

from builder import testing
from builder.testing import claim_port, reserve_port

CALLS = 1000  # port 0 draws from ~14,000 ports: 1,000 draws repeat one ~35 times, and none with odds of e^-35


def kernel_port() -> int:
    """What the tests' ``free_port()`` did: bind port 0 and close, leaving the port to the next taker."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_binding_port_0_and_closing_hands_out_the_same_port_again() -> None:
    # when free ports are found the old way, many times in one process
    ports = [kernel_port() for _ in range(CALLS)]

    # then some came back twice: two servers of one test could be told the same port
    assert len(set(ports)) < CALLS


def test_a_reserved_port_is_handed_out_once_and_no_other_socket_gets_it() -> None:
    # when as many ports are reserved
    reserved = [reserve_port() for _ in range(CALLS)]
    # and other sockets then take the ports the kernel picks for them
    taken = {kernel_port() for _ in range(CALLS)}

    # then no reserved port came back twice, and none went to another socket
    assert len(set(reserved)) == CALLS
    assert taken.isdisjoint(reserved)


def test_a_server_binds_the_port_it_was_given() -> None:
    # given a reserved port
    port = reserve_port()

    # then a server that sets SO_REUSEADDR, as the test servers all do, listens on it
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass


def test_a_port_is_never_handed_out_twice_even_when_the_kernel_offers_it_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a port a server chose itself (claimed), one reserved earlier, and a kernel that offers both again (as it
    # may once their TIME_WAIT is over)
    claimed, earlier, fresh = kernel_port(), reserve_port(), testing._port_in_time_wait("127.0.0.1")
    claim_port(claimed)
    offers = iter([claimed, earlier, claimed, fresh])
    monkeypatch.setattr(testing, "_port_in_time_wait", lambda host: next(offers))

    # when a port is reserved
    port = reserve_port()

    # then it is neither: the kernel's offers of them were passed over
    assert port == fresh
