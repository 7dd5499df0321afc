"""Loopback helpers shared by the tools that start local servers (serving, deploy): they listen
on 127.0.0.1 only, on a port the kernel hands out."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def free_port() -> int:
    """A port the kernel just handed out on 127.0.0.1 (closed again for the server to take)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])
