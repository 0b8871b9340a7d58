"""The micro-batcher on its own, with a recording stand-in for the model: batch forming, fairness, failures."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from spert.serve.batcher import BatcherClosed, MicroBatcher, QueueFull


class Recorder:
    """Stands in for the model: answers item -> (key, item) and records every batch."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[tuple[object, list]] = []
        self.delay = delay
        self.threads: set[str] = set()

    def __call__(self, items, key):
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        self.batches.append((key, list(items)))
        return [ValueError(f"bad {x}") if str(x).startswith("bad") else (key, x) for x in items]


def run(scenario, recorder: Recorder, **kwargs):
    async def main():
        b = MicroBatcher(recorder, **{"max_batch_size": 4, "max_wait_s": 0.0, "max_queue": 100, **kwargs})
        b.start()
        try:
            return await scenario(b)
        finally:
            await b.close()

    return asyncio.run(main())


def test_each_caller_gets_its_own_results_in_order_from_shared_bounded_batches():
    rec = Recorder(delay=0.01)

    async def scenario(b):
        jobs = [[f"{j}-{i}" for i in range(j + 1)] for j in range(6)]
        return jobs, await asyncio.gather(*[b.submit(items, "k") for items in jobs])

    jobs, results = run(scenario, rec)
    assert results == [[("k", x) for x in items] for items in jobs]
    assert all(len(items) <= 4 for _, items in rec.batches)
    assert len(rec.batches) < sum(len(j) for j in jobs), "requests shared batches"
    assert rec.threads == {"spert-infer_0"}  # one worker thread, never the event loop


def test_a_large_job_is_interleaved_with_small_ones():
    rec = Recorder(delay=0.01)
    order: list[str] = []

    async def scenario(b):
        async def submit(name, items):
            await b.submit(items, "k")
            order.append(name)

        big = asyncio.create_task(submit("big", [f"big{i}" for i in range(20)]))
        await asyncio.sleep(0.015)  # the big job is in its first batches
        await asyncio.gather(submit("small-a", ["a"]), submit("small-b", ["b"]))
        await big

    run(scenario, rec)
    assert order == ["small-a", "small-b", "big"]
    with_small = next(items for _, items in rec.batches if "a" in items)
    assert any(x.startswith("big") for x in with_small), "the small jobs joined a batch of the big one"


def test_jobs_with_different_options_never_share_a_batch_and_take_turns():
    rec = Recorder()

    async def scenario(b):
        return await asyncio.gather(b.submit(list("abcdefgh"), ("t", 0.1)), b.submit(["x", "y"], ("t", 0.9)))

    first, second = run(scenario, rec)
    assert first == [(("t", 0.1), x) for x in "abcdefgh"] and second == [(("t", 0.9), "x"), (("t", 0.9), "y")]
    assert all(set(items) <= set("abcdefgh") or set(items) <= {"x", "y"} for _, items in rec.batches)
    keys = [k for k, _ in rec.batches]
    assert keys[:2] == [("t", 0.1), ("t", 0.9)], "the second option set did not wait for the whole first job"


def test_a_failing_item_fails_only_its_own_job():
    rec = Recorder()

    async def scenario(b):
        return await asyncio.gather(b.submit(["ok1", "bad1", "ok2"], "k"), b.submit(["ok3"], "k"),
                                    return_exceptions=True)

    bad, good = run(scenario, rec)
    assert isinstance(bad, ValueError) and str(bad) == "bad bad1"
    assert good == [("k", "ok3")]


def test_a_model_exception_fails_the_batch_not_the_batcher():
    calls = []

    def flaky(items, key):
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return list(items)

    async def scenario(b):
        with pytest.raises(RuntimeError, match="boom"):
            await b.submit(["a"], "k")
        assert b.running
        return await b.submit(["b"], "k")

    assert run(scenario, flaky) == ["b"]


def test_cancelled_jobs_leave_the_queue():
    rec = Recorder(delay=0.05)

    async def scenario(b):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(b.submit([f"x{i}" for i in range(40)], "k"), 0.08)
        assert b.queued == 0
        await asyncio.sleep(0.1)
        return await b.submit(["y"], "k")

    assert run(scenario, rec) == [("k", "y")]
    assert sum(len(items) for _, items in rec.batches) < 20, "the cancelled job's rest was not run"


def test_queue_bound_and_closing():
    rec = Recorder(delay=0.05)

    async def scenario(b):
        first = asyncio.create_task(b.submit(list("abcdef"), "k"))
        await asyncio.sleep(0)
        with pytest.raises(QueueFull):
            await b.submit(list("ghijk"), "k")
        closing = asyncio.create_task(b.close())
        await asyncio.sleep(0)
        with pytest.raises(BatcherClosed):
            await b.submit(["late"], "k")
        await closing
        return await first  # queued work was finished before closing

    assert run(scenario, rec, max_queue=10) == [("k", x) for x in "abcdef"]


def test_a_lone_client_does_not_wait_but_concurrent_ones_are_gathered():
    rec = Recorder(delay=0.02)

    async def scenario(b):
        start = time.monotonic()
        await b.submit(["solo"], "k")
        lone = time.monotonic() - start
        # three clients come back staggered; after a batch of three, the batcher waits for three again
        await asyncio.gather(*[b.submit([f"c{i}"], "k") for i in range(3)])

        async def later(i):
            await asyncio.sleep(0.01 * i)
            return await b.submit([f"d{i}"], "k")

        await asyncio.gather(*[later(i) for i in range(3)])
        return lone

    lone = run(scenario, rec, max_wait_s=1.0)
    assert lone < 0.5, "a single request waited for the batch to fill"
    assert rec.batches[-1][1] == ["d0", "d1", "d2"]
