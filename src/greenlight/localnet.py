"""Loopback helpers shared by the tools that start local servers (serving, deploy): they listen
on 127.0.0.1 only, on a port the kernel hands out."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

HOST = "127.0.0.1"
CLIENT_TIMEOUT_S = 10.0  # what a deploy check waits for one answer of a color


def free_port() -> int:
    """A port the kernel just handed out on 127.0.0.1 (closed again for the server to take)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def loopback_client(port: int) -> httpx.Client:
    """A client of the server on 127.0.0.1:`port` (a color of the local or docker target)."""
    import httpx  # noqa: PLC0415 (serving imports this module and never needs a client)

    return httpx.Client(base_url=f"http://{HOST}:{port}", timeout=CLIENT_TIMEOUT_S)
