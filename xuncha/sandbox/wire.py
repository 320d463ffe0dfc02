"""Messages between the dashboard and a query process (xuncha/sandbox/worker.py), over one
Unix socket pair: a kind byte, a length, the payload.

    J  JSON: what a query process says (a header, a trailer, an error); read by the dashboard
    A  Arrow IPC stream bytes: the rows, in pieces
    P  pickle: a request from the dashboard; only the query process unpickles, never the
       dashboard, so nothing a query process sends is ever unpickled

The standard library only: the query process imports this before anything else.
"""

from __future__ import annotations

import json
import pickle
import socket
import struct
import time
from typing import Any

JSON = b"J"
ARROW = b"A"
PICKLE = b"P"

_HEADER = struct.Struct("!cQ")


class Deadline(Exception):
    """The deadline passed before the whole message arrived."""


class TooLarge(Exception):
    """A message longer than the reader accepts."""

    def __init__(self, size: int) -> None:
        super().__init__(f"message of {size} bytes")
        self.size = size


def send(sock: socket.socket, kind: bytes, payload: bytes | bytearray | memoryview) -> None:
    sock.sendall(_HEADER.pack(kind, len(payload)))
    if len(payload):
        sock.sendall(payload)


def send_json(sock: socket.socket, value: Any) -> None:
    send(sock, JSON, json.dumps(value, separators=(",", ":")).encode())


def request(value: Any) -> bytes:
    """A request, pickled (raises before anything is sent if it cannot be)."""
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def send_pickle(sock: socket.socket, value: Any) -> None:
    send(sock, PICKLE, request(value))


def recv(
    sock: socket.socket, *, deadline: float | None = None, limit: int | None = None
) -> tuple[bytes, bytearray]:
    """One message: (kind, payload). `deadline` is a time.monotonic() value; EOFError when the
    other end is gone, Deadline when the time is up, TooLarge beyond `limit` bytes."""
    head = _read(sock, _HEADER.size, deadline)
    kind, size = _HEADER.unpack(head)
    if limit is not None and size > limit:
        raise TooLarge(size)
    return kind, _read(sock, size, deadline) if size else bytearray()


def loads_json(payload: bytes | bytearray) -> dict[str, Any]:
    value = json.loads(payload)
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def _read(sock: socket.socket, size: int, deadline: float | None) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        if deadline is None:
            sock.settimeout(None)
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Deadline
            sock.settimeout(remaining)
        try:
            n = sock.recv_into(view[got:], min(size - got, 1 << 24))
        except TimeoutError:
            raise Deadline from None
        if n == 0:
            raise EOFError("the other end closed the connection")
        got += n
    return buffer
