"""Starting or joining Ray for a run, and keeping its temp dir inside the run's OUT.

A run's Ray keeps its sockets, logs and spilled objects under OUT/.ray (reached by a short
/tmp link when OUT is deep), so a run leaves nothing elsewhere and two runs never share a
session. Start-up is tried twice and its failure is one line, never a traceback.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from pathlib import Path
from typing import Any

from longvid_pipeline.errors import RunFailed, message_line
from longvid_pipeline.recipe import Recipe

log = logging.getLogger("longvid_pipeline")


def _ray_temp_link(out: Path) -> Path:
    """Where the short link to OUT/.ray lives when OUT is deep (see `ray_temp_dir`)."""
    target = (out / ".ray").resolve()
    return Path("/tmp") / f"lvray-{hashlib.sha256(str(target).encode()).hexdigest()[:10]}"


def ray_temp_dir(out: Path) -> str:
    """Ray's temp dir inside OUT, reached through a short link: unix sockets under it
    must stay below ~107 characters, which deep OUT paths would exceed. The run removes
    the link when it ends (`remove_ray_temp_link`)."""
    target = (out / ".ray").resolve()
    target.mkdir(parents=True, exist_ok=True)
    if len(str(target)) <= 40:
        return str(target)
    link = _ray_temp_link(out)
    if link.is_symlink() and Path(os.readlink(link)) != target:
        link.unlink()
    if not link.exists():
        link.symlink_to(target, target_is_directory=True)
    return str(link)


def remove_ray_temp_link(out: Path) -> None:
    """Remove the /tmp link of `ray_temp_dir` if it is ours (points into this OUT)."""
    link = _ray_temp_link(out)
    if link.is_symlink() and Path(os.readlink(link)) == (out / ".ray").resolve():
        link.unlink()


def _ray_log_level() -> int:
    """Ray's own INFO lines only with -v (the run prints its own summary)."""
    return logging.INFO if log.isEnabledFor(logging.INFO) else logging.WARNING


def init_ray(recipe: Recipe, out: Path) -> bool:
    """Join a cluster (recipe address or RAY_ADDRESS) or start a local Ray under OUT.

    Returns True when this call started Ray (and so should shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    address = recipe.ray.address or os.environ.get("RAY_ADDRESS")
    if address:
        _check_reachable(address)
        _start_ray(
            f"join the Ray cluster at {address}",
            address=address,
            log_to_driver=True,
            logging_level=_ray_log_level(),
        )
        return True
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "_temp_dir": ray_temp_dir(out),
        "log_to_driver": True,
        "logging_level": _ray_log_level(),
    }
    if recipe.ray.num_cpus:
        kwargs["num_cpus"] = recipe.ray.num_cpus
    if recipe.ray.object_store_mb:
        kwargs["object_store_memory"] = recipe.ray.object_store_mb * 1024 * 1024
    _start_ray("start a local Ray", **kwargs)
    return True


def _check_reachable(address: str) -> None:
    """Fail at once, in one line, when nothing listens at a `host:port` (or `ray://`)
    address: Ray itself retries a dead GCS address for many minutes before it says so."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or "://" in host:
        return  # "auto", "local" and the like: Ray resolves those itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as exc:
        raise RunFailed(
            f"could not join the Ray cluster at {address}: nothing answers there ({exc});"
            " check ray.address (or RAY_ADDRESS) and that the head is up"
        ) from exc


def _start_ray(what: str, **kwargs: Any) -> None:
    """`ray.init`, tried twice: a local start on a busy machine can time out once (Ray's
    "node timed out during startup ... GCS overloaded") and then come up; a second failure
    is a RunFailed in one line, since nothing has run yet."""
    import ray

    for attempt in (1, 2):
        try:
            ray.init(**kwargs)
            return
        except Exception as exc:  # Ray raises plain Exceptions and ConnectionErrors here
            ray.shutdown()
            if attempt == 2:
                first_line = message_line(exc)
                raise RunFailed(
                    f"could not {what} ({type(exc).__name__}: {first_line}); nothing was run:"
                    " check the address and the machine's load, then rerun the same command"
                ) from exc
            log.warning("could not %s (%s); trying once more", what, exc)
