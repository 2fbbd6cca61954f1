"""Keep tests on loopback: a connection anywhere else is refused at the socket layer.

Tests of the fetch path name unsafe addresses on purpose (169.254.169.254, 10.0.0.1);
if a check ever regresses, the request must still never leave the machine. Patching
`socket.socket.connect` catches every Python client (urllib, http.client, yt-dlp).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest


def refuse_beyond_loopback(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Patch connect so non-loopback IP connections fail unsent; returns the refused list."""
    real_connect = socket.socket.connect
    refused: list[Any] = []

    def connect(sock: socket.socket, address: Any) -> Any:
        is_ip = sock.family in (socket.AF_INET, socket.AF_INET6)
        if is_ip and not ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback:
            refused.append(address)
            raise ConnectionRefusedError(f"tests stay on loopback: refused {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return refused
