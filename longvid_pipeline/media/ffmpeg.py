"""Which ffmpeg to run, and running it quietly.

There is no manual install step anywhere: ffmpeg comes from the system when one is on
PATH, else from imageio-ffmpeg's bundled static binary.
"""

from __future__ import annotations

import functools
import shutil
import subprocess


@functools.lru_cache(maxsize=1)
def ffmpeg_binary() -> str:
    """Path of the ffmpeg executable: the system one if present, else imageio-ffmpeg's."""
    system = shutil.which("ffmpeg")
    if system:
        return system
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(
    args: list[str], timeout_s: float | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg quietly with `args`; raises CalledProcessError with its stderr on failure."""
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    return subprocess.run(command, capture_output=True, check=True, timeout=timeout_s)
