"""Micro-batching: documents of concurrent requests share one model call.

Each request is a *job* (its documents and the options they must be predicted with, the
*key*). One task on the event loop forms batches and hands each to a single worker
thread, so inference never blocks the event loop (PyTorch releases the GIL while it
computes) and the model is only ever called from one thread.

How a batch is formed:

* Only jobs with the same key (the server uses the request's frozen PredictOptions) share a batch; the
  key is that of the job at the head of the queue.
* Documents are taken round-robin, one from each job in turn, up to ``max_batch_size``:
  a request with hundreds of documents is split over many batches, and a small request
  arriving meanwhile gets into the very next one instead of waiting behind it. The job
  at the head moves to the back after each batch, so keys take turns too.
* Under concurrent load it waits up to ``max_wait`` for as many requests as the last
  batch held (clients answered together tend to come back together); a lone client's
  request (last batch: one request) runs at once, so it pays no waiting time.

Each job's results come back in its own order. A job that is cancelled (timeout) leaves
the queue; a document whose prediction fails fails only its own job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# run(items, key) -> one result per item, or an exception instance for an item that failed
RunBatch = Callable[[list[Any], Hashable], Sequence[Any]]


class QueueFull(Exception):
    """More documents are waiting than the queue holds."""


class BatcherClosed(Exception):
    """The batcher is shutting down and takes no new work."""


@dataclass(eq=False)
class _Job:
    key: Hashable
    items: list[Any]
    future: asyncio.Future
    results: list[Any] = field(default_factory=list)
    next: int = 0  # first item not yet handed to a batch
    left: int = 0  # items without a result yet

    def __post_init__(self) -> None:
        self.results = [None] * len(self.items)
        self.left = len(self.items)

    @property
    def pending(self) -> int:
        return len(self.items) - self.next


@dataclass
class BatchStats:
    batches: int = 0
    items: int = 0
    largest: int = 0


class MicroBatcher:
    """Gathers the documents of concurrent requests into bounded model calls on one worker thread."""

    def __init__(self, run: RunBatch, *, max_batch_size: int, max_wait_s: float, max_queue: int) -> None:
        self._run, self.max_batch_size, self.max_wait_s, self.max_queue = run, max_batch_size, max_wait_s, max_queue
        self._jobs: deque[_Job] = deque()
        self._queued = 0  # items in self._jobs not yet handed to a batch
        self._wake = asyncio.Event()
        self._closing = False
        self._last_jobs = 1  # requests in the last batch: how many to wait for under load
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spert-infer")
        self._task: asyncio.Task | None = None
        self.stats = BatchStats()

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="spert-batcher")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done() and not self._closing

    @property
    def queued(self) -> int:
        return self._queued

    async def close(self) -> None:
        """Finish every queued job, then stop the worker thread."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=True)

    async def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the worker thread, between batches (e.g. a warm-up)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    # -- callers ----------------------------------------------------------------------

    async def submit(self, items: list[Any], key: Hashable) -> list[Any]:
        """Results for ``items`` in order; raises the first item's failure, QueueFull or BatcherClosed."""
        if not items:
            return []
        if self._closing:
            raise BatcherClosed()
        if self._queued + len(items) > self.max_queue:
            raise QueueFull()
        job = _Job(key, list(items), asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        self._queued += len(items)
        self._wake.set()
        try:
            return await job.future
        finally:  # cancelled (timeout) or failed: its remaining items leave the queue
            self._drop(job)

    def _drop(self, job: _Job) -> None:
        if job.pending:
            self._queued -= job.pending
            job.next = len(job.items)
        try:
            self._jobs.remove(job)
        except ValueError:
            pass

    # -- the batching task ------------------------------------------------------------

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._jobs:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._fill()
            batch, key = self._take()
            if not batch:
                continue
            results = await loop.run_in_executor(self._executor, self._run_safely, [j.items[i] for j, i in batch],
                                                 key)
            self._deliver(batch, results)

    async def _fill(self) -> None:
        """Under load, wait (at most max_wait) until as many requests are queued as the last batch held."""
        target = min(self._last_jobs, self.max_batch_size)
        deadline = time.monotonic() + self.max_wait_s
        while len(self._jobs) < target and self._queued < self.max_batch_size and not self._closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                return

    def _take(self) -> tuple[list[tuple[_Job, int]], Hashable]:
        """Up to max_batch_size items of the head job's key, one from each such job in turn."""
        key = self._jobs[0].key
        jobs = [j for j in self._jobs if j.key == key]
        batch: list[tuple[_Job, int]] = []
        while len(batch) < self.max_batch_size and any(j.pending for j in jobs):
            for j in jobs:
                if j.pending and len(batch) < self.max_batch_size:
                    batch.append((j, j.next))
                    j.next += 1
        self._queued -= len(batch)
        head = self._jobs[0]
        self._jobs = deque(j for j in self._jobs if j.pending and j is not head)
        if head.pending:  # the head goes to the back: other keys and jobs take turns
            self._jobs.append(head)
        self._last_jobs = len({id(j) for j, _ in batch})
        self.stats.batches += 1
        self.stats.items += len(batch)
        self.stats.largest = max(self.stats.largest, len(batch))
        return batch, key

    def _run_safely(self, items: list[Any], key: Hashable) -> Sequence[Any]:
        try:
            results = self._run(items, key)
            if len(results) != len(items):
                raise RuntimeError(f"the model returned {len(results)} results for {len(items)} inputs")
            return results
        except Exception as e:  # a bug, or out of memory: fail these jobs, keep serving
            log.exception("prediction failed for a batch of %d documents", len(items))
            return [e] * len(items)

    def _deliver(self, batch: list[tuple[_Job, int]], results: Sequence[Any]) -> None:
        for (job, i), r in zip(batch, results):
            if job.future.done():  # cancelled, or failed on an earlier item
                continue
            if isinstance(r, BaseException):
                job.future.set_exception(r)
                self._drop(job)
                continue
            job.results[i] = r
            job.left -= 1
            if job.left == 0:
                job.future.set_result(job.results)
