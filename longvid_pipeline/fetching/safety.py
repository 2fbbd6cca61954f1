"""Safety checks for anything taken from an input row: URLs we connect to, paths we write.

Inputs are untrusted text. A manifest can name `http://169.254.169.254/` (the cloud
metadata endpoint), a service on the worker's loopback, or a file name like `../../x`.
`parse_http_url` refuses anything but a well-formed http(s) URL; `address_problem` says
why an address in a private, loopback, link-local, reserved, multicast or unspecified
range is refused unless the recipe allows it (`fetching.pinning` applies both to every
request and redirect hop); `safe_child` keeps paths under their root. Checks raise
instead of returning a flag so a forgotten check cannot silently pass.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from pathlib import Path

ALLOWED_SCHEMES = ("http", "https")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(Exception):
    """A URL we refuse to fetch; `reason` is a short machine-readable word."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def _unwrap(address: Address) -> Address:
    """The IPv4 address hidden in an IPv4-mapped, 6to4 or NAT64-free IPv6 form, else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def address_problem(address: Address, allow_loopback: bool, allow_private: bool) -> str | None:
    """Why connecting to `address` is refused (a reason word), or None when it is public."""
    address = _unwrap(address)
    if address.is_loopback:
        return None if allow_loopback else "loopback_address"
    if address.is_link_local:  # 169.254.169.254 (cloud metadata) and fe80::/10
        return "link_local_address"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "reserved_address"
    if address.is_private or not address.is_global:
        return None if allow_private else "private_address"
    return None


def resolve(host: str) -> list[Address]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL("unresolvable_host", f"{host}: {exc}") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def parse_http_url(url: str) -> urllib.parse.SplitResult:
    """Split `url`, refusing anything that is not a well-formed http(s) URL with a host."""
    if not isinstance(url, str) or not url.strip() or any(c.isspace() for c in url.strip()):
        raise UnsafeURL("malformed_url", f"not a URL: {url!r}")
    try:
        parts = urllib.parse.urlsplit(url.strip())
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise UnsafeURL("malformed_url", f"{url!r}: {exc}") from exc
    if not parts.scheme:
        raise UnsafeURL("malformed_url", f"no scheme in {url!r}")
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise UnsafeURL("bad_scheme", f"scheme {parts.scheme!r} is not http(s): {url!r}")
    if not parts.hostname:
        raise UnsafeURL("malformed_url", f"no host in {url!r}")
    return parts


def safe_child(root: Path, name: str) -> Path:
    """`root / name`, refusing any name that would land outside `root` (.., absolute, links).

    Raises:
        ValueError: when the resolved path is not inside the resolved root.
    """
    root_resolved = Path(root).resolve()
    candidate = (root_resolved / name).resolve()
    if candidate == root_resolved or root_resolved not in candidate.parents:
        raise ValueError(f"path {name!r} escapes {root_resolved}")
    return candidate
