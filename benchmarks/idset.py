"""The writer's run-wide id set: time and memory to admit N row ids, against a Python set
of the id strings (what the writer kept before `IdSet`) measured in the same run.

    PYTHONPATH=. .venv/bin/python benchmarks/idset.py [--ids 5000000]

Each kind runs in its own process (so RSS is its own), admitting ids the way the writer
does: one `add` per row, which says whether the id was new. 5M ids is a 100,000-input
build of 50 QA rows each. Prints seconds, seconds per million ids for each fifth of the ids
(flat: the set does not slow down as it grows) and RSS at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from builds import proc_status_mb  # noqa: E402


def admit(kind: str, count: int) -> dict[str, object]:
    """Admit `count` distinct QA-like ids into a fresh set of `kind`; its figures."""
    import numpy  # noqa: F401  (IdSet's own import, kept out of the RSS it measures)

    from longvid_pipeline.ids import IdSet

    baseline_mb = proc_status_mb("VmRSS")
    seen: IdSet | set[str] = IdSet() if kind == "idset" else set()
    fifth = max(1, count // 5)
    started = last = time.perf_counter()
    per_fifth = []
    for number in range(count):
        row_id = f"qa-{number:012d}-{number % 97:02d}"
        if isinstance(seen, IdSet):
            new = seen.add(row_id) is not False  # (an IdSet before add() said so: None)
        else:
            new = row_id not in seen
            seen.add(row_id)
        assert new
        if (number + 1) % fifth == 0:
            now = time.perf_counter()
            per_fifth.append(round((now - last) * 1e6 / fifth, 1))
            last = now
    seconds = time.perf_counter() - started
    grown_mb = proc_status_mb("VmRSS") - baseline_mb
    return {
        "kind": kind,
        "ids": count,
        "seconds": round(seconds, 1),
        "s_per_million_ids_by_fifth": per_fifth,
        "rss_mb_above_start": round(grown_mb),
        "bytes_per_id": round(grown_mb * 2**20 / count, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=5_000_000)
    parser.add_argument("--single", choices=("idset", "set"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        print(json.dumps(admit(args.single, args.ids)))
        return
    for kind in ("idset", "set"):
        command = [sys.executable, __file__, "--single", kind, "--ids", str(args.ids)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        print(done.stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
