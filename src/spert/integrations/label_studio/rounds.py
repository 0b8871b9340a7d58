"""Training rounds of the Label Studio backend: fetch, fine-tune in a child process, compare, switch.

:class:`Trainer` runs one round per project at a time (a second request for the same
project while one runs is a 409). A round fetches the project's JSON export through an
:class:`~.source.ExportSource` (Label Studio's SDK, URL and token from the server's settings,
never from a request), starts ``python -m spert.integrations.label_studio.finetune`` on it
(the import, split, training and scoring: see that module) and waits for it without blocking
the server, which keeps predicting with the serving model. The two processes share only the
records of :mod:`.jobs`, as JSON files. The candidate then becomes a version in the
:class:`~.versions.VersionStore`; it serves (``on_switch``) only if its score on the held-out
share is not below the serving model's on the same share (REL+ micro F1, NER micro F1 for
entity-only types) and no version is pinned. Switching is serialised across projects by one
lock. A round's state is a :class:`Round`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from spert.errors import SpertError
from spert.eval.metrics import Metrics
from spert.integrations.label_studio.jobs import FinetuneFailure, FinetuneJob, FinetuneResult, Progress, read_result
from spert.integrations.label_studio.source import ExportSource
from spert.integrations.label_studio.versions import VersionStore
from spert.serve.protocol import ClientError

log = logging.getLogger(__name__)

FINETUNE_MODULE = "spert.integrations.label_studio.finetune"  # run as the round's child process


def main_score(metrics: dict[str, Any], has_relations: bool) -> float:
    return Metrics.from_json(metrics).main_score(has_relations)


@dataclass(frozen=True)
class Score:
    """The candidate's and the serving model's score on the same held-out share."""

    candidate: float
    serving: float | None  # None: the types differ, the serving model was not scored
    metric: str  # "rel_plus" (REL+ micro F1) or "ner" (NER micro F1, for entity-only types)


@dataclass(frozen=True)
class Outcome:
    """What a finished training process reported, as the round shows it."""

    result: FinetuneResult
    score: Score

    def to_json(self, private: bool) -> dict[str, Any]:
        r, counts = self.result, self.result.counts
        out: dict[str, Any] = {"import_summary": counts.import_summary, "import_report": counts.import_report,
                               "train_records": counts.train_records, "held_out_records": counts.held_out_records,
                               "seconds": r.seconds}
        if private:
            out.update(candidate=r.candidate, current=r.current)
        return {**out, "score": asdict(self.score)}


@dataclass
class Round:
    """A project's training round, running or done (the backend's record of it, never sent to the
    training process). Fields that do not apply yet are None and absent from its JSON."""

    project: int
    name: str  # "p7-1700000000000" ("round" in the JSON)
    reason: str  # "START_TRAINING", "ANNOTATION_CREATED", "20 annotations", ...
    text_key: str  # the task data key of the text (the labelling config's Text tag)
    started: float
    stage: str = "fetching"  # fetching, training, accepted, rejected (...), failed
    finished: float | None = None
    job_dir: str | None = None
    started_from: str | None = None  # the serving version the candidate was trained from
    outcome: Outcome | None = None
    version: str | None = None  # the candidate's version name, once it is one
    accepted: bool | None = None
    error: str | None = None  # the first line of what stopped a failed round

    def to_json(self, private: bool = True) -> dict[str, Any]:
        """The round as ``/training`` and ``/metrics`` show it; without ``private``, as the web page
        does: without file paths, the text key and the metrics beyond the score."""
        out: dict[str, Any] = {"project": self.project, "round": self.name, "reason": self.reason}
        if private:
            out["text_key"] = self.text_key
        out.update(stage=self.stage, started=self.started, finished=self.finished)
        if private and self.job_dir is not None:
            out["job_dir"] = self.job_dir
        if self.started_from is not None:
            out["started_from"] = self.started_from
        if self.outcome is not None:
            out.update(self.outcome.to_json(private))
        if self.version is not None:
            out.update(version=self.version, accepted=self.accepted)
        if self.error is not None:
            out["error"] = self.error
        return out


class Trainer:
    """Training rounds, one per project at a time, and what the last one of each did."""

    def __init__(self, store: VersionStore, make_job: Callable[[Path, str, Path], FinetuneJob],
                 source: Callable[[], ExportSource], on_switch: Callable[[str], Awaitable[None]]) -> None:
        self.store, self.make_job, self.source, self.on_switch = store, make_job, source, on_switch
        self.rounds: dict[int, Round] = {}  # project -> its last (or running) round
        self.tasks: dict[int, asyncio.Task] = {}
        self.processes: dict[int, asyncio.subprocess.Process] = {}
        self.switch_lock = asyncio.Lock()

    def running(self, project: int) -> bool:
        return project in self.tasks and not self.tasks[project].done()

    def start(self, project: int, reason: str, text_key: str) -> dict[str, Any]:
        """Start a round for ``project`` (its tasks' text under ``text_key``); a 409 while one runs for it."""
        if self.running(project):
            raise ClientError(409, "training", f"project {project} is already training "
                                               f"(round {self.rounds[project].name}); one at a time")
        number = int(time.time() * 1000)
        round_ = Round(project=project, name=f"p{project}-{number}", reason=reason, text_key=text_key,
                       started=time.time())
        self.rounds[project] = round_
        self.tasks[project] = asyncio.create_task(self._round(round_))
        return self.status(project)

    def status(self, project: int, private: bool = True) -> dict[str, Any]:
        """The project's last round, with the progress its process wrote (see :meth:`Round.to_json`)."""
        if project not in self.rounds:
            return {"project": project, "stage": "never trained"}
        round_ = self.rounds[project]
        out = round_.to_json(private)
        if round_.finished is None and round_.job_dir is not None:
            progress = Progress.read(Path(round_.job_dir))
            if progress is not None:
                out["progress"] = progress
        return out

    async def _round(self, round_: Round) -> None:
        try:
            await self._run(round_)
        except Exception as e:  # noqa: BLE001  a failed round is reported, the server keeps serving
            round_.stage, round_.error = "failed", str(e).splitlines()[0] if str(e) else type(e).__name__
            if not isinstance(e, SpertError):
                log.exception("training round %s failed", round_.name)
            else:
                log.warning("training round %s failed: %s", round_.name, e)
        finally:
            round_.finished = time.time()
            self.processes.pop(round_.project, None)

    async def _run(self, round_: Round) -> None:
        job_dir = self.store.job_dir(round_.name)
        round_.job_dir = str(job_dir)
        export = await asyncio.to_thread(self.source().export, round_.project)
        (job_dir / "export.json").write_bytes(export)
        started_from = self.store.serving()
        self.make_job(job_dir / "export.json", round_.text_key, self.store.path(started_from)).write(job_dir)
        round_.stage, round_.started_from = "training", started_from
        with open(job_dir / "train.log", "wb") as logfile:
            proc = await asyncio.create_subprocess_exec(sys.executable, "-m", FINETUNE_MODULE,
                                                        str(job_dir), stdout=logfile, stderr=logfile)
            self.processes[round_.project] = proc
            code = await proc.wait()
        result = read_result(job_dir)
        if code != 0 or not isinstance(result, FinetuneResult):
            raise SpertError(result.error if isinstance(result, FinetuneFailure) and result.error else
                             f"the training process ended with status {code}; see {job_dir / 'train.log'}")
        await self._decide(round_, result, started_from)

    async def _decide(self, round_: Round, result: FinetuneResult, started_from: str) -> None:
        rel = result.has_relations
        new = main_score(result.candidate, rel)
        old = None if result.current is None else main_score(result.current, rel)
        accepted = old is None or new >= old
        round_.outcome = Outcome(result, Score(candidate=new, serving=old, metric="rel_plus" if rel else "ner"))
        counts = result.counts
        async with self.switch_lock:
            name = self.store.add(Path(result.candidate_dir), {
                "project": round_.project, "round": round_.name, "parent": started_from, "accepted": accepted,
                "score": asdict(round_.outcome.score), "metrics": result.candidate,
                "train_records": counts.train_records, "held_out_records": counts.held_out_records})
            round_.version, round_.accepted = name, accepted
            if accepted:
                self.store.promote(name)
                if self.store.pinned() is None:
                    await self.on_switch(name)
        round_.stage = "accepted" if accepted else "rejected (worse on the held-out share)"
        log.info("training round %s: %s (%s %.4f, serving %s)", round_.name, round_.stage, name, new,
                 "n/a" if old is None else f"{old:.4f}")

    async def close(self) -> None:
        """Stop the training processes and wait for their rounds to end (at shutdown)."""
        for proc in list(self.processes.values()):
            if proc.returncode is None:
                proc.terminate()
        for task in list(self.tasks.values()):
            try:
                await asyncio.wait_for(task, 10)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                task.cancel()
