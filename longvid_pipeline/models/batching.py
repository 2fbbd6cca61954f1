"""Batches that adapt to memory: an out-of-memory halves the batch and retries.

Shared by every model backend (captioner, text LLM). The batch size a run starts with is
a recipe key; once a batch ran out of memory the smaller size sticks for the actor's
life, so the next video does not hit the same wall. A single item that still fails is
reported as a failure (reason, detail) for the caller to turn into a clip-level reject,
never raised: one bad clip must not stop the run.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

log = logging.getLogger("longvid_pipeline.models")


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's out-of-memory errors (CUDA, MPS) and a CPU allocator failure."""
    try:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            return True
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    text = str(exc).lower()
    return isinstance(exc, (RuntimeError, MemoryError)) and (
        "out of memory" in text or "can't allocate memory" in text or isinstance(exc, MemoryError)
    )


def free_memory() -> None:
    """Give cached accelerator memory back after an out-of-memory."""
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


@dataclass
class BatchRun(Generic[Result]):
    """What a batched run gave: one result per item (None where it failed) and the
    failures by item position: (reason, detail)."""

    results: list[Result | None]
    failures: dict[int, tuple[str, str]] = field(default_factory=dict)


@dataclass
class AdaptiveBatcher:
    """Runs items through a batch function, halving the batch size on out-of-memory."""

    batch_size: int
    oom_events: int = 0

    def run(
        self, items: Sequence[Item], run_batch: Callable[[list[Item]], list[Result | None]]
    ) -> BatchRun[Result]:
        """`run_batch` on consecutive chunks of `items`; failures isolated to single items."""
        outcome: BatchRun[Result] = BatchRun(results=[None] * len(items))
        start = 0
        while start < len(items):
            size = min(self.batch_size, len(items) - start)
            chunk = list(items[start : start + size])
            try:
                results = run_batch(chunk)
                if len(results) != size:
                    raise ValueError(f"batch of {size} gave {len(results)} results")
                outcome.results[start : start + size] = results
            except Exception as exc:  # model errors are data: halve, isolate, or report
                if not self._recover(exc, size, start, chunk, run_batch, outcome):
                    continue  # retry the same start with a smaller batch
            start += size
        return outcome

    def _recover(
        self,
        exc: Exception,
        size: int,
        start: int,
        chunk: list[Item],
        run_batch: Callable[[list[Item]], list[Result | None]],
        outcome: BatchRun[Result],
    ) -> bool:
        """Handle a failed chunk; False means: retry it with the (halved) batch size."""
        if is_out_of_memory(exc):
            self.oom_events += 1
            free_memory()
            if size > 1:
                self.batch_size = (size + 1) // 2
                log.warning("out of memory at batch %d: retrying at %d", size, self.batch_size)
                return False
            outcome.failures[start] = ("out_of_memory", _detail(exc))
            return True
        if size == 1:
            outcome.failures[start] = (f"error_{type(exc).__name__}", _detail(exc))
            return True
        for offset, one in enumerate(chunk):  # find which item of the batch fails
            single = self.run([one], run_batch)
            outcome.results[start + offset] = single.results[0]
            if 0 in single.failures:
                outcome.failures[start + offset] = single.failures[0]
        return True


def _detail(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
