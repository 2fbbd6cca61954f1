"""Caption stage benchmark: clips per second, and how long the model actor waits for input.

Why: principle 5 ("GPUs never wait"). The caption stage runs as CPU prep workers (decode
and resize each video's clip frames) feeding a model actor pool; if the prep side cannot
keep up, the model actor idles. This runs the stage the way a recipe does (the project's
own operator planning: `caption_prep` workers -> `caption` actors, on a local Ray) over
textured test videos cut into fixed clips, at two clips-per-batch sizes, and reports:

- clips/s: clips captioned per second of the model actor's warm span;
- wait share: 1 - busy / span for the model actor once warm, where busy is the time
  inside the stage's process() and span runs from the end of its first video to the end
  of its last. Target < 10%. The model loads when its actor starts and the prep workers
  wait for it, so no backlog prepared during the load hides a prep side too slow to keep
  up; prep and model seconds per clip are printed too (prep s/clip / prep workers must
  stay under model s/clip for the actor never to wait).

    PYTHONPATH=. .venv/bin/python benchmarks/caption.py [--videos 6] [--seconds 24]
        [--clip-s 3] [--frames 8] [--new-tokens 16] [--batch-sizes 1 8] [--cpus 2]
        [--model tiny|qwen2-vl-2b] [--device auto] [--quick]

`--model qwen2-vl-2b` builds a random-weight model with Qwen2-VL-2B's sizes (on a GPU:
add --device cuda and give the caption actor a GPU with --gpus 1); it reports the same
figures, i.e. clips per GPU-hour and GPU busy share.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # support.vlms: tiny random-weight models

from longvid_pipeline.captioning.config import CaptionConfig  # noqa: E402
from longvid_pipeline.config import build_section  # noqa: E402
from longvid_pipeline.item import ITEM_COLUMN, WorkItem  # noqa: E402
from longvid_pipeline.media.ffmpeg import run_ffmpeg  # noqa: E402
from longvid_pipeline.stage import Resources, RunContext, StageSpec  # noqa: E402
from longvid_pipeline.stages.caption import CaptionPrepStage, CaptionStage  # noqa: E402


def _log(path: str, **record: Any) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"pid": os.getpid(), **record}) + "\n")


class TimedPrep(CaptionPrepStage):
    """The prep workers, held until the model actor is loaded (so the measurement starts
    in steady state instead of with a backlog prepared during the model load)."""

    log_path = ""
    gate = ""

    def run_item(self, item: WorkItem) -> WorkItem:
        while not os.path.exists(self.gate):
            time.sleep(0.02)
        if not self._ready:  # imports and configs once per worker: not per-clip work
            self.setup()
            self._ready = True
        start = time.time()
        item = super().run_item(item)
        _log(self.log_path, kind="prep", start=start, end=time.time(), clips=len(item.clips))
        return item


class TimedCaption(CaptionStage):
    """The caption stage, loading its model at actor start and logging every video."""

    log_path = ""

    def __init__(self, config: Any, context: RunContext) -> None:
        super().__init__(config, context)
        self.setup()
        self._ready = True
        Path(TimedPrep.gate).touch()

    @classmethod
    def operator_specs(cls, spec: StageSpec) -> list[StageSpec]:
        prep, model = super().operator_specs(spec)
        return [replace(prep, stage_cls=TimedPrep), model]

    def process(self, item: WorkItem) -> WorkItem:
        start = time.time()
        clips = len(item.clips)
        item = super().process(item)
        _log(self.log_path, kind="model", start=start, end=time.time(), clips=clips)
        return item


def make_videos(folder: Path, count: int, seconds: float) -> list[Path]:
    """Textured 320x240 H.264 videos (moving pattern + grain), keyframe every 2 s."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"v{index}.mp4"
        source = f"testsrc2=size=320x240:rate=25:duration={seconds},noise=alls=12:allf=t+u"
        run_ffmpeg(["-f", "lavfi", "-i", source, "-c:v", "libx264", "-preset", "veryfast",
                    "-g", "50", "-pix_fmt", "yuv420p", "-y", str(path)])  # fmt: skip
        paths.append(path)
    return paths


def make_items(videos: list[Path], seconds: float, clip_s: float) -> list[WorkItem]:
    """Work items as the segment stage leaves them: fixed clip windows, no captions."""
    items = []
    for index, path in enumerate(videos):
        item = WorkItem(input_id=f"in-{index}", source={"url": str(path)}, source_kind="folder")
        item.video = {"video_id": f"v-{index}", "height": 240, "width": 320, "duration_s": seconds}
        item.media_path = str(path)
        starts = [s * clip_s for s in range(int(seconds // clip_s))]
        item.clips = [
            {"clip_index": i, "start_s": start, "end_s": start + clip_s}
            for i, start in enumerate(starts)
        ]
        items.append(item)
    return items


def build_model(kind: str, folder: Path) -> Path:
    from support.vlms import random_qwen2_vl_2b, tiny_vlm

    return tiny_vlm("qwen2_vl", folder) if kind == "tiny" else random_qwen2_vl_2b(folder)


def run_once(
    items: list[WorkItem], model: Path, batch: int, args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    """One pass of the caption stage over `items` on Ray; figures from the actor's log."""
    import ray.data

    from longvid_pipeline.operators import add_operator, plan_operators

    raw = {"backends": ["transformers"], "prep": {"concurrency": args.prep_workers},
           "transformers": {"model": str(model), "frames_per_clip": args.frames,
                            "max_new_tokens": args.new_tokens, "clips_per_batch": batch,
                            "device": args.device}}  # fmt: skip
    config, errors = build_section(CaptionConfig, raw, "stages.caption")
    assert not errors, errors
    log = work / f"timings-{batch}.jsonl"
    TimedCaption.log_path = TimedPrep.log_path = str(log)
    TimedPrep.gate = str(work / f"model-ready-{batch}")
    resources = Resources(num_cpus=1.0, num_gpus=args.gpus, concurrency=1, batch_size=1)
    spec = StageSpec("caption", TimedCaption, config, resources)
    context = RunContext(out_dir=str(work))
    rows = [{"input_id": i.input_id, ITEM_COLUMN: i.to_json()} for i in items]
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
    for operator in plan_operators([spec], fuse_cpu_stages=True):
        dataset = add_operator(dataset, operator, context)
    done = [
        WorkItem.from_json(str(t))
        for b in dataset.iter_batches(batch_size=1)
        for t in b[ITEM_COLUMN]
    ]
    assert all(item.alive for item in done), [item.rejects for item in done if not item.alive]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    model = sorted((r for r in records if r["kind"] == "model"), key=lambda r: r["start"])
    prep = [r for r in records if r["kind"] == "prep"]
    warm = model[1:]
    span = model[-1]["end"] - model[0]["end"]
    busy = sum(r["end"] - r["start"] for r in warm)
    clips = sum(r["clips"] for r in warm)
    prep_s = sum(r["end"] - r["start"] for r in prep)
    return {
        "clips_per_batch": batch,
        "videos": len(model),
        "clips_warm": clips,
        "clips_per_s": round(clips / span, 2),
        "wait_share": round(1 - busy / span, 3),
        "model_busy_s_per_clip": round(busy / clips, 4),
        "prep_s_per_clip": round(prep_s / sum(r["clips"] for r in prep), 4),
        "prep_workers": args.prep_workers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=24.0)
    parser.add_argument("--clip-s", type=float, default=3.0)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    parser.add_argument("--gpus", type=float, default=0.0, help="GPUs per caption actor")
    parser.add_argument("--prep-workers", type=int, default=1)
    parser.add_argument("--model", choices=("tiny", "qwen2-vl-2b"), default="tiny")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="3 videos of 12 s")
    args = parser.parse_args()
    if args.quick:
        args.videos, args.seconds = 3, 12.0
    import ray

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        videos = make_videos(work / "videos", args.videos, args.seconds)
        model = build_model(args.model, work / "model")
        items = make_items(videos, args.seconds, args.clip_s)
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(num_cpus=args.cpus, num_gpus=1 if args.gpus else 0, include_dashboard=False,
                 logging_level="ERROR", _temp_dir=str(work / "ray"))  # fmt: skip
        ray.data.DataContext.get_current().enable_progress_bars = False
        try:
            results = [run_once(items, model, batch, args, work) for batch in args.batch_sizes]
        finally:
            ray.shutdown()
    print(json.dumps({"model": args.model, "frames_per_clip": args.frames,
                      "new_tokens": args.new_tokens, "runs": results}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
