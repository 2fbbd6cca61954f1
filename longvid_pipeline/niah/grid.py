"""The benchmark's inputs: one per sample of every (length, depth) cell of each grid.

An input is one sample: (benchmark, length, depth, replicate), with its hop count and the
positions of its right answers fixed here, in the driver, so every sample is built on its
own (any worker, any run) and the whole benchmark still has balanced answer letters. Its
input id hashes the cell, the replicate, the seeds and the digest of the haystack videos:
a rerun into the same OUT skips samples already committed, adding a length or a depth adds
only the new cells' inputs (answer letters are balanced over a build from scratch), and a
changed dataset gives new inputs (rebuild with --force).
Each sample ends as one `niah` row or one input-level reject, so inputs = kept + rejected.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from longvid_pipeline.ids import stable_hash
from longvid_pipeline.item import WorkItem
from longvid_pipeline.niah.chains import OPTIONS
from longvid_pipeline.niah.config import NiahConfig
from longvid_pipeline.niah.haystack import HaystackError, load_pool, pool_digest

SOURCE_KIND = "output"
MULTI_HOP, SINGLE_HOP = "mh_niah", "v_niah"


@dataclass(frozen=True)
class SampleSpec:
    """One sample to build: the source row of its work item."""

    benchmark: str  # mh_niah | v_niah
    length: int
    depth: int
    replicate: int
    hops: int
    distractor_needles: int
    caption_answer_index: int
    visual_answer_index: int
    haystack_root: str
    pool_digest: str
    seed: int

    def key(self) -> list[Any]:
        """What identifies the sample: not where the haystack output lives, and not its
        answer positions (they depend on the whole grid; a grown grid keeps its samples)."""
        fields = dataclasses.asdict(self)
        for name in ("haystack_root", "caption_answer_index", "visual_answer_index"):
            fields.pop(name)
        return sorted(fields.items())

    @classmethod
    def from_source(cls, source: dict[str, Any]) -> SampleSpec:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{name: source[name] for name in names})


def answer_positions(count: int, rng: random.Random) -> list[int]:
    """`count` option positions, each of the four used count/4 times (±1), in random order."""
    positions = [index % OPTIONS for index in range(count)]
    rng.shuffle(positions)
    return positions


def _cells(lengths: list[int], depths: list[int], per_cell: int) -> list[tuple[int, int, int]]:
    return [(length, depth, r) for length in lengths for depth in depths for r in range(per_cell)]


def plan_samples(config: NiahConfig, root: str, digest: str, run_seed: int) -> list[SampleSpec]:
    """Every sample of both grids, in grid order (benchmark, length, depth, replicate)."""
    seed = stable_hash("niah-grid", config.seed, run_seed)
    multi, single = config.multi_hop, config.single_hop
    tracks = [
        (
            MULTI_HOP,
            _cells(multi.lengths, multi.depths, multi.samples_per_cell),
            multi.hops,
            multi.distractor_needles,
        ),
        (SINGLE_HOP, _cells(single.lengths, single.depths, single.samples_per_cell), [0], 0),
    ]
    specs = []
    for benchmark, cells, hops, distractors in tracks:
        letters = {
            kind: answer_positions(len(cells), random.Random(f"{seed}:{benchmark}:{kind}"))
            for kind in ("caption", "visual")
        }
        for ordinal, (length, depth, replicate) in enumerate(cells):
            specs.append(
                SampleSpec(
                    benchmark=benchmark,
                    length=length,
                    depth=depth,
                    replicate=replicate,
                    hops=hops[replicate % len(hops)],
                    distractor_needles=distractors,
                    caption_answer_index=letters["caption"][ordinal],
                    visual_answer_index=letters["visual"][ordinal],
                    haystack_root=root,
                    pool_digest=digest,
                    seed=run_seed,
                )
            )
    return specs


def sample_items(root: Path, config: NiahConfig, run_seed: int) -> list[WorkItem]:
    """The work items of a benchmark build over the videos of the output at `root`."""
    resolved = Path(root).resolve()
    try:
        digest = pool_digest(load_pool(resolved))
    except HaystackError as exc:
        raise FileNotFoundError(f"source.path {root}: {exc.detail}") from exc
    return [
        WorkItem(
            input_id="in-" + stable_hash("niah", spec.key(), config.seed),
            source=dataclasses.asdict(spec),
            source_kind=SOURCE_KIND,
        )
        for spec in plan_samples(config, str(resolved), digest, run_seed)
    ]
