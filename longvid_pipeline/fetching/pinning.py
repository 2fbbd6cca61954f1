"""Connections made for an input: every hop checked before it is sent, to the address checked.

Checking a URL and then letting an HTTP client connect leaves two holes: the client
follows redirects on its own (a public page answering `302 Location:
http://169.254.169.254/` gets the metadata endpoint a real GET), and it resolves the
host name again (DNS rebinding: public at check time, loopback at connect time). A
`PinnedResolver` closes both for one input:

- `check_url` (the input's own URL) and `check_redirect` (each hop, before the next
  request exists) resolve the host once, check every address (`safety.address_problem`)
  and pin the result;
- `connect` is the socket factory of every HTTP connection: it uses the pinned addresses
  (resolving and checking a host it has not seen), never a second lookup.

A refused hop names the address class: `redirect_to_loopback`, `redirect_to_link_local`,
`redirect_to_private`, `redirect_to_reserved` (or `redirect_bad_scheme`, ...); the
input's own URL keeps `safety.check_url`'s reasons. Proxies the operator configured are
trusted: behind one, the proxy resolves names, so only the URL checks apply.

`pinned_opener` is the urllib opener for our own requests (annotations sidecars);
`fetching.download` plugs the same resolver into yt-dlp's request handler.
"""

from __future__ import annotations

import functools
import http.client
import socket
import ssl
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from longvid_pipeline.fetching.safety import (
    Address,
    UnsafeURL,
    address_problem,
    parse_http_url,
    resolve,
)

ADDRESS_CLASSES = {
    "loopback_address": "loopback",
    "link_local_address": "link_local",
    "private_address": "private",
    "reserved_address": "reserved",
}


def redirect_reason(reason: str) -> str:
    """The reason of a refused redirect hop: `redirect_to_<address class>` or `redirect_<reason>`."""
    if reason in ADDRESS_CLASSES:
        return f"redirect_to_{ADDRESS_CLASSES[reason]}"
    return f"redirect_{reason}"


def check_url(url: str, allow_loopback: bool = False, allow_private: bool = False) -> None:
    """Refuse `url` unless it is http(s) and every address its host resolves to is allowed.

    Every resolved address is checked, not just the first, because a client may connect
    to any of them. (Requests use a `PinnedResolver`, which also pins what it checked.)

    Example:
        >>> check_url("ftp://example.com/a.mp4")
        Traceback (most recent call last):
        ...
        longvid_pipeline.fetching.safety.UnsafeURL: bad_scheme: scheme 'ftp' is not http(s): ...

    Raises:
        UnsafeURL: reason malformed_url | bad_scheme | unresolvable_host |
            loopback_address | private_address | link_local_address | reserved_address.
    """
    PinnedResolver(allow_loopback, allow_private).check_url(url)


class PinnedResolver:
    """Checked, pinned name resolution and connections for the requests of one input."""

    def __init__(self, allow_loopback: bool = False, allow_private: bool = False) -> None:
        self.allow_loopback = allow_loopback
        self.allow_private = allow_private
        self._pins: dict[str, list[Address]] = {}
        self._trusted: set[str] = set()
        self._lock = threading.Lock()

    def trust_proxies(self, proxy_urls: Iterable[str]) -> None:
        """Connections to these proxies are not address-checked (operator configuration)."""
        for url in proxy_urls:
            host = urllib.parse.urlsplit(url if "//" in url else f"//{url}").hostname
            if host:
                self._trusted.add(host.lower())

    def addresses(self, host: str) -> list[Address]:
        """Every address of `host`, checked; resolved once, then served from the pin.

        Raises:
            UnsafeURL: unresolvable_host, or the first refused address's class.
        """
        key = host.strip("[]").lower()
        with self._lock:
            pinned = self._pins.get(key)
        if pinned is not None:
            return pinned
        found = resolve(key)
        for address in found:
            problem = address_problem(address, self.allow_loopback, self.allow_private)
            if problem:
                raise UnsafeURL(problem, f"{host} resolves to {address}")
        with self._lock:
            return self._pins.setdefault(key, found)

    def check_url(self, url: str) -> None:
        """Check (and pin) the input's own URL; reasons as `safety.address_problem`."""
        host = parse_http_url(url).hostname or ""
        try:
            self.addresses(host)
        except UnsafeURL as unsafe:
            raise UnsafeURL(unsafe.reason, f"{unsafe.detail} ({url})") from None

    def check_redirect(self, url: str) -> None:
        """Check (and pin) a redirect target before any request to it exists."""
        try:
            self.addresses(parse_http_url(url).hostname or "")
        except UnsafeURL as unsafe:
            detail = f"redirect to {url} refused: {unsafe.detail}"
            raise UnsafeURL(redirect_reason(unsafe.reason), detail) from None

    def connect(
        self,
        address: tuple[str, int],
        timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
        source_address: tuple[str, int] | None = None,
        **_: Any,
    ) -> socket.socket:
        """`socket.create_connection` that connects only to checked, pinned addresses."""
        host, port = address
        if host.strip("[]").lower() in self._trusted:
            return socket.create_connection(address, timeout, source_address)
        error: OSError | None = None
        for ip in self.addresses(host):
            family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect((str(ip), port))
                return sock
            except OSError as exc:
                error = exc
                sock.close()
        raise error or OSError(f"no address to connect to for {host}")

    def connection_factory(self, build: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap an http.client connection constructor so its socket comes from `connect`."""
        return functools.partial(_pinned_connection, build, self)


def _pinned_connection(
    build: Callable[..., Any], resolver: PinnedResolver, *args: Any, **kwargs: Any
) -> Any:
    connection = build(*args, **kwargs)
    if hasattr(connection, "_create_connection"):  # a SOCKS connection dials its proxy itself
        connection._create_connection = resolver.connect
    return connection


# ---------------------------------------------------------------- urllib (our own requests)


class PinnedHTTPHandler(urllib.request.HTTPHandler):
    """urllib http:// through pinned connections."""

    def __init__(self, resolver: PinnedResolver) -> None:
        super().__init__()
        self._resolver = resolver

    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(self._resolver.connection_factory(http.client.HTTPConnection), req)


class PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    """urllib https:// through pinned connections (certificates still checked by name)."""

    def __init__(self, resolver: PinnedResolver) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(context=self._tls)
        self._resolver = resolver

    def https_open(self, req: urllib.request.Request) -> Any:
        factory = self._resolver.connection_factory(http.client.HTTPSConnection)
        return self.do_open(factory, req, context=self._tls)


class RedirectCheck:
    """Mixin for a urllib-style redirect handler: check the hop's address before the base
    class builds the next request (urllib's own rules, or yt-dlp's)."""

    def __init__(self, resolver: PinnedResolver) -> None:
        self._resolver = resolver

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Any:
        self._resolver.check_redirect(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)  # type: ignore[misc]


class CheckedRedirects(RedirectCheck, urllib.request.HTTPRedirectHandler):
    """urllib redirect handler that checks each hop before the next request exists."""


def pinned_opener(resolver: PinnedResolver) -> urllib.request.OpenerDirector:
    """An opener for http(s) only: hops checked, connections pinned, env proxies trusted."""
    proxies = urllib.request.getproxies()
    resolver.trust_proxies(url for scheme, url in proxies.items() if scheme != "no")
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(proxies),
        PinnedHTTPHandler(resolver),
        PinnedHTTPSHandler(resolver),
        CheckedRedirects(resolver),
        urllib.request.UnknownHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener
