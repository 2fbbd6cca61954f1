"""Out-of-memory backoff: the batch halves and retries; one item that still fails is
reported, never raised; an ordinary error is pinned to the item that causes it."""

from __future__ import annotations

import torch

from longvid_pipeline.models.batching import AdaptiveBatcher, is_out_of_memory


class FakeModel:
    """Runs out of memory above `fits` items, and always on the item `poison`."""

    def __init__(self, fits: int, poison: int | None = None, error_on: int | None = None):
        self.fits, self.poison, self.error_on = fits, poison, error_on
        self.calls: list[list[int]] = []

    def __call__(self, batch: list[int]) -> list[str]:
        self.calls.append(list(batch))
        if len(batch) > self.fits or self.poison in batch:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if self.error_on in batch:
            raise ValueError(f"bad item {self.error_on}")
        return [f"caption {i}" for i in batch]


def test_out_of_memory_halves_the_batch_and_the_smaller_size_sticks() -> None:
    model = FakeModel(fits=2)
    batcher = AdaptiveBatcher(batch_size=8)
    run = batcher.run(list(range(7)), model)
    assert run.results == [f"caption {i}" for i in range(7)] and run.failures == {}
    assert [len(call) for call in model.calls] == [7, 4, 2, 2, 2, 1]
    assert batcher.batch_size == 2 and batcher.oom_events == 2
    model.calls.clear()
    batcher.run([10, 11, 12], model)
    assert [len(call) for call in model.calls] == [2, 1]  # no second trip to the wall


def test_an_item_that_fails_alone_is_reported_and_the_rest_captioned() -> None:
    run = AdaptiveBatcher(batch_size=4).run(list(range(4)), FakeModel(fits=4, poison=2))
    assert run.results == ["caption 0", "caption 1", None, "caption 3"]
    assert list(run.failures) == [2]
    reason, detail = run.failures[2]
    assert reason == "out_of_memory" and "Tried to allocate" in detail


def test_an_ordinary_error_is_isolated_to_its_item_without_halving() -> None:
    batcher = AdaptiveBatcher(batch_size=4)
    run = batcher.run(list(range(4)), FakeModel(fits=4, error_on=1))
    assert run.results == ["caption 0", None, "caption 2", "caption 3"]
    assert run.failures[1][0] == "error_ValueError"
    assert batcher.batch_size == 4


def test_what_counts_as_out_of_memory() -> None:
    assert is_out_of_memory(torch.OutOfMemoryError("x"))
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
