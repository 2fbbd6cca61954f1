"""yt-dlp behind the address checks: one request handler, hops checked, connections pinned.

yt-dlp follows redirects inside its HTTP handler and resolves host names itself, so a
check of the URL before `urlopen` is not enough (see `fetching.pinning`). A
`GuardedYoutubeDL` therefore has exactly one request handler, `PinnedUrllibRH`: yt-dlp's
urllib handler (headers, encodings, cookies, proxies) whose redirect handler checks each
hop before the next request exists and whose connections are opened by the input's
`PinnedResolver`. Downloaders that would open connections outside that handler (ffmpeg
or aria2c as downloaders) are refused; ffmpeg's own HLS fallback may read local files only.
"""

from __future__ import annotations

import functools
import http.client
import urllib.request
from typing import Any

import yt_dlp
from yt_dlp.downloader import get_suitable_downloader
from yt_dlp.downloader.dash import DashSegmentsFD
from yt_dlp.downloader.hls import HlsFD
from yt_dlp.downloader.http import HttpFD
from yt_dlp.networking import _urllib as ytdlp_urllib
from yt_dlp.networking.exceptions import RequestError

from longvid_pipeline.fetching.pinning import PinnedResolver, RedirectCheck
from longvid_pipeline.fetching.safety import UnsafeURL

# Downloaders whose every request goes through YoutubeDL.urlopen (so through the pins).
NATIVE_DOWNLOADERS = (HttpFD, HlsFD, DashSegmentsFD)
# ffmpeg as a downloader (HLS fallback) may read local files only: never the network.
FFMPEG_INPUT_ARGS = ["-protocol_whitelist", "file,pipe,crypto,data"]


class AddressRefused(RequestError):
    """A request or one of its redirects was refused by the address check (cause: UnsafeURL).

    A RequestError, so yt-dlp's request director passes it on instead of trying another
    handler, and extractors keep it as the cause of their error."""


class _PinnedYdlHTTPHandler(ytdlp_urllib.HTTPHandler):
    """yt-dlp's urllib HTTP handler (encodings, headers) with pinned connections."""

    def __init__(self, resolver: PinnedResolver, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._resolver = resolver

    def _factory(self, base: type, req: Any) -> Any:
        build = functools.partial(
            ytdlp_urllib._create_http_connection,
            self._make_conn_class(base, req),
            self._source_address,
        )
        return self._resolver.connection_factory(build)

    def http_open(self, req: Any) -> Any:
        return self.do_open(self._factory(http.client.HTTPConnection, req), req)

    def https_open(self, req: Any) -> Any:
        factory = self._factory(http.client.HTTPSConnection, req)
        return self.do_open(factory, req, context=self._context)


class _CheckedYdlRedirects(RedirectCheck, ytdlp_urllib.RedirectHandler):
    """yt-dlp's redirect rules, after checking the hop's address."""


class PinnedUrllibRH(ytdlp_urllib.UrllibRH):
    """The only request handler of a GuardedYoutubeDL: http(s) and data: URLs, every hop
    checked and every connection pinned (no FTP, no file:// handler)."""

    _SUPPORTED_URL_SCHEMES = ("http", "https", "data")
    RH_NAME = "urllib-pinned"

    def __init__(self, *, resolver: PinnedResolver, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._resolver = resolver

    def _create_instance(
        self, proxies: Any, cookiejar: Any, legacy_ssl_support: Any = None
    ) -> urllib.request.OpenerDirector:
        opener = urllib.request.OpenerDirector()
        for handler in (
            ytdlp_urllib.ProxyHandler(proxies),
            _PinnedYdlHTTPHandler(
                self._resolver,
                debuglevel=int(bool(self.verbose)),
                context=self._make_sslcontext(legacy_ssl_support=legacy_ssl_support),
                source_address=self.source_address,
            ),
            urllib.request.HTTPCookieProcessor(cookiejar),
            urllib.request.DataHandler(),
            urllib.request.UnknownHandler(),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
            _CheckedYdlRedirects(self._resolver),
        ):
            opener.add_handler(handler)
        opener.addheaders = []
        return opener

    def _send(self, request: Any) -> Any:
        try:
            return super()._send(request)
        except UnsafeURL as refused:
            raise AddressRefused(cause=refused) from refused


class GuardedYoutubeDL(yt_dlp.YoutubeDL):
    """YoutubeDL whose every request is checked and pinned by one input's resolver."""

    def __init__(self, params: dict[str, Any], resolver: PinnedResolver) -> None:
        self._resolver = resolver
        super().__init__(params)
        resolver.trust_proxies(url for url in self.proxies.values() if url != "__noproxy__")

    @functools.cached_property
    def _request_director(self) -> Any:
        return self.build_request_director(
            [functools.partial(PinnedUrllibRH, resolver=self._resolver)]
        )

    def urlopen(self, req: Any) -> Any:
        self._resolver.check_url(req if isinstance(req, str) else req.url)
        return super().urlopen(req)

    def dl(self, name: str, info: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        """Refuse downloaders that would open connections themselves (ffmpeg, aria2c...)."""
        downloader = get_suitable_downloader(info, self.params, to_stdout=(name == "-"))
        if downloader not in NATIVE_DOWNLOADERS:
            chosen = getattr(downloader, "__name__", str(downloader))
            raise UnsafeURL(
                "unsupported_protocol",
                f"{info.get('protocol')} needs downloader {chosen}, which bypasses the address checks",
            )
        return super().dl(name, info, *args, **kwargs)
