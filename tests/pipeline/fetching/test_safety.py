"""URL and path safety: which addresses are refused, and that paths stay under their root."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from longvid_pipeline.fetching.pinning import check_url
from longvid_pipeline.fetching.safety import UnsafeURL, address_problem, safe_child


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("127.0.0.1", "loopback_address"),
        ("127.8.9.10", "loopback_address"),
        ("::1", "loopback_address"),
        ("::ffff:127.0.0.1", "loopback_address"),
        ("10.1.2.3", "private_address"),
        ("172.16.0.1", "private_address"),
        ("192.168.1.1", "private_address"),
        ("100.64.0.1", "private_address"),
        ("fd00::1", "private_address"),
        ("169.254.169.254", "link_local_address"),
        ("fe80::1", "link_local_address"),
        ("::ffff:169.254.169.254", "link_local_address"),
        ("0.0.0.0", "reserved_address"),
        ("::", "reserved_address"),
        ("224.0.0.1", "reserved_address"),
        ("240.0.0.1", "reserved_address"),
        ("2002:0a00:0001::1", "private_address"),
    ],
)
def test_address_problem_defaults(address: str, problem: str | None) -> None:
    assert address_problem(ipaddress.ip_address(address), False, False) == problem


def test_allow_flags_open_only_their_range() -> None:
    loopback, private = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.0.0.1")
    metadata = ipaddress.ip_address("169.254.169.254")
    assert address_problem(loopback, allow_loopback=True, allow_private=False) is None
    assert address_problem(private, allow_loopback=True, allow_private=False) == "private_address"
    assert address_problem(private, allow_loopback=False, allow_private=True) is None
    assert address_problem(loopback, allow_loopback=False, allow_private=True) == "loopback_address"
    # the metadata endpoint is never opened by either flag
    assert address_problem(metadata, True, True) == "link_local_address"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/a.mp4", "bad_scheme"),
        ("file:///etc/passwd", "bad_scheme"),
        ("gopher://127.0.0.1:70/", "bad_scheme"),
        ("example.com/a.mp4", "malformed_url"),
        ("http://exa mple.com/", "malformed_url"),
        ("http://example.com:99999/", "malformed_url"),
        ("https:///path-only", "malformed_url"),
        ("http://localhost/x", "loopback_address"),
        ("http://[::1]:8000/x", "loopback_address"),
        ("http://2130706433/x", "loopback_address"),  # 127.0.0.1 as a decimal integer
        ("http://169.254.169.254/latest/meta-data/", "link_local_address"),
        ("http://[fe80::1]/", "link_local_address"),
        ("http://192.168.0.10/", "private_address"),
        ("http://name.invalid/", "unresolvable_host"),
    ],
)
def test_check_url_refuses(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURL) as refused:
        check_url(url, allow_loopback=False, allow_private=False)
    assert refused.value.reason == reason


def test_check_url_allows_loopback_when_asked() -> None:
    check_url("http://127.0.0.1:8080/demo-000.mp4", allow_loopback=True, allow_private=False)
    check_url("https://[::1]/a", allow_loopback=True, allow_private=False)


@pytest.mark.parametrize("name", ["../x", "../../etc/passwd", "/etc/passwd", "a/../../b", "", "."])
def test_safe_child_refuses_escapes(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        safe_child(tmp_path / "root", name)


def test_safe_child_refuses_symlink_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError):
        safe_child(root, "link/escape.mp4")


def test_safe_child_keeps_inside_names(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert safe_child(root, "v-0123.mp4") == (root / "v-0123.mp4").resolve()
    assert safe_child(root, "sub/./v.mp4") == (root / "sub" / "v.mp4").resolve()
