"""Chains, questions, grid and placement of niah samples, checked from the rows alone.

The solver reads clue texts (never pixels) from the prompt to the final needle for every
sample; the distractor chain never leads there; every cell of the grid has its samples;
answer letters are balanced; needles never overlap and the final one sits at its depth.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support.niah import build_rows, make_haystack_output, small_config

from longvid_pipeline.niah import checks
from longvid_pipeline.niah.chains import caption_phrase
from longvid_pipeline.niah.grid import MULTI_HOP, SINGLE_HOP, plan_samples
from longvid_pipeline.niah.haystack import HaystackError, load_pool, place_needles, plan_haystack


@pytest.fixture(scope="module")
def haystack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("haystack")
    make_haystack_output(out)
    return out


@pytest.fixture(scope="module")
def rows(haystack: Path) -> list[dict[str, Any]]:
    return build_rows(haystack, small_config())


def test_the_solver_follows_every_chain_to_the_final_needle(rows: list[dict[str, Any]]) -> None:
    assert len(rows) == 2 * 3 * 3 + 2 * 3 * 2
    for row in rows:
        path = checks.solve(row)  # clue texts only: the prompt names the first needle
        needles = row["needles"]
        assert path == row["answer_chain"] and len(path) == row["hops"] + 1
        assert needles[path[-1]]["role"] == "final" and needles[path[-1]]["clue_text"] is None
        assert all(needles[i]["role"] == "clue" for i in path[:-1])
        caption, visual = sorted(row["questions"], key=lambda q: q["kind"])
        assert caption["answer"] == needles[path[-1]]["caption"]
        card = json.loads(needles[path[-1]]["attributes"])
        assert visual["answer"] == str(card[visual["attribute"]])
        if row["benchmark"] == MULTI_HOP:
            assert caption_phrase(needles[path[0]]["caption"]) in row["prompt"]
            detour = checks.follow(row, row["distractor_chain"][0])
            assert detour == row["distractor_chain"] and len(detour) == 3
            assert path[-1] not in detour and not set(detour) & set(path)
            # The distractor's final needle answers the visual question wrongly, and is an option.
            wrong = json.loads(needles[detour[-1]]["attributes"])[visual["attribute"]]
            assert str(wrong) != visual["answer"] and str(wrong) in visual["options"]
            assert needles[detour[-1]]["caption"] in caption["options"]
        else:
            assert row["hops"] == 0 and len(needles) == 1 and row["distractor_chain"] == []
        assert checks.row_problems(row) == []


def test_needles_of_a_sample_are_all_different(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        needles = row["needles"]
        assert len({n["caption"] for n in needles}) == len(needles)
        assert len({n["png"] for n in needles}) == len(needles)
        answer = {needles[i]["caption"] for i in row["answer_chain"]}
        assert not answer & {needles[i]["caption"] for i in row["distractor_chain"]}
        for needle in needles:  # the clue box is recorded where the band is
            assert (needle["clue_box"] is None) == (needle["clue_text"] is None)


def test_grid_coverage_hops_and_balanced_letters() -> None:
    config = small_config(multi_hop={"samples_per_cell": 4}, single_hop={"samples_per_cell": 3})
    specs = plan_samples(config, "/data", "digest", run_seed=0)
    cells = Counter((s.benchmark, s.length, s.depth) for s in specs)
    assert {c: n for c, n in cells.items() if c[0] == MULTI_HOP} == {
        (MULTI_HOP, length, depth): 4 for length in (24, 40) for depth in (0, 50, 100)
    }
    assert set(n for c, n in cells.items() if c[0] == SINGLE_HOP) == {3} and len(cells) == 12
    hops = Counter(s.hops for s in specs if s.benchmark == MULTI_HOP)
    assert hops == {1: 12, 2: 6, 3: 6}  # replicates cycle through [1, 2, 3]
    for benchmark in (MULTI_HOP, SINGLE_HOP):
        for field in ("caption_answer_index", "visual_answer_index"):
            letters = Counter(getattr(s, field) for s in specs if s.benchmark == benchmark)
            assert (
                set(letters) == {0, 1, 2, 3} and max(letters.values()) - min(letters.values()) <= 1
            )


def test_rows_record_the_balanced_letters(rows: list[dict[str, Any]]) -> None:
    for kind in ("caption", "visual"):
        letters = Counter(
            q["answer_letter"] for row in rows for q in row["questions"] if q["kind"] == kind
        )
        assert sum(letters.values()) == len(rows)
        assert max(letters.values()) - min(letters.values()) <= 2  # balanced per benchmark


def _without_questions(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "questions"}


def test_samples_are_reproducible_and_seeded(haystack: Path, rows: list[dict[str, Any]]) -> None:
    config = small_config(multi_hop={"lengths": [24]}, single_hop={"samples_per_cell": 0})
    again = build_rows(haystack, config)
    assert again == build_rows(haystack, config)
    # A smaller grid builds the same samples; only where the answers sit may move (letters
    # are balanced over the whole grid).
    same_cells = [r for r in rows if r["benchmark"] == MULTI_HOP and r["length"] == 24]
    assert [_without_questions(r) for r in again] == [_without_questions(r) for r in same_cells]
    other = build_rows(haystack, small_config(multi_hop={"lengths": [24]}, seed=1))
    assert {r["sample_id"] for r in other}.isdisjoint(r["sample_id"] for r in again)


@pytest.mark.parametrize("seed", range(200))
def test_placement_is_exact_at_every_depth(seed: int) -> None:
    rng = random.Random(seed)
    count, hold, gap = rng.randint(1, 8), rng.randint(1, 3), rng.randint(0, 3)
    length = count * (hold + gap) + hold + rng.randint(0, 30)  # NiahConfig's minimum and more
    depth = rng.choice([0, 20, 40, 50, 60, 80, 100])
    final, others = place_needles(length, count, depth, hold, gap, rng)
    starts = sorted([final, *others])
    assert final == round(depth / 100 * (length - hold)) and len(others) == count - 1
    assert starts[0] >= 0 and starts[-1] + hold <= length
    assert all(b - a >= hold + gap for a, b in zip(starts, starts[1:], strict=False))


def test_haystack_takes_frames_at_the_rate_and_loops_only_when_allowed(haystack: Path) -> None:
    pool = load_pool(haystack)
    total = sum(video.frame_count(1.0) for video in pool)
    durations = {video.video_id: video.duration_s for video in pool}
    segments = plan_haystack(pool, total, 1.0, random.Random(0), allow_repeat=False)
    stamps = [(s["video_id"], t) for s in segments for t in s["timestamps"]]
    assert len(stamps) == len(set(stamps)) == total  # every frame once, none repeated
    assert all(0 < t < durations[v] and (t - 0.5) % 1 == 0 for v, t in stamps)
    with pytest.raises(HaystackError, match="haystack_too_short"):
        plan_haystack(pool, total + 1, 1.0, random.Random(0), allow_repeat=False)
    looped = plan_haystack(pool, 3 * total, 1.0, random.Random(0), allow_repeat=True)
    assert sum(len(s["timestamps"]) for s in looped) == 3 * total


def test_checks_catch_a_broken_row(rows: list[dict[str, Any]]) -> None:
    row = next(r for r in rows if r["benchmark"] == MULTI_HOP and r["hops"] == 2)
    needles = row["needles"]
    misled = copy.deepcopy(row)  # the first clue now points into the distractor chain
    first = misled["needles"][row["answer_chain"][0]]
    first["clue_text"] = "Find the frame of " + caption_phrase(
        needles[row["distractor_chain"][0]]["caption"]
    )
    assert checks.chain_problems(misled) and not checks.passes(misled, {}, "chain")
    overlap = copy.deepcopy(row)
    overlap["needles"][1]["frame_index"] = overlap["needles"][0]["frame_index"]
    assert checks.placement_problems(overlap)
    bad_letter = copy.deepcopy(row)
    bad_letter["questions"][0]["answer_letter"] = "E"
    assert checks.question_problems(bad_letter)
    not_png = copy.deepcopy(row)
    not_png["needles"][0]["png"] = b"GIF89a"
    assert checks.image_problems(not_png) and not checks.passes({"needles": None}, {}, "images")
