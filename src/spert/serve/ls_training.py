"""Training rounds of the Label Studio backend: fetch, fine-tune in a child process, compare, switch.

:class:`Trainer` runs one round per project at a time (a second request for the same
project while one runs is a 409). A round fetches the project's JSON export through
:class:`SdkSource` (the official ``label-studio-sdk``, URL and token from the server's
settings, never from a request), starts ``python -m spert.train.ls_finetune`` on it (the
import, split, training and scoring: see that module) and waits for it without blocking
the server, which keeps predicting with the serving model. The candidate then becomes a
version in the :class:`~spert.serve.model_versions.VersionStore`; it serves (``on_switch``)
only if its score on the held-out share is not below the serving model's on the same
share (REL+ micro F1, NER micro F1 for entity-only types) and no version is pinned.
Switching is serialised across projects by one lock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from spert.errors import SpertError
from spert.eval.metrics import Metrics
from spert.serve.model_versions import VersionStore
from spert.serve.protocol import ClientError
from spert.train.ls_finetune import PROGRESS, RESULT, FinetuneJob

log = logging.getLogger(__name__)


class UnknownProject(SpertError):
    pass


class ExportSource(Protocol):
    """Where a project's annotations come from (Label Studio through its SDK; a fake in tests)."""

    def check_project(self, project_id: int) -> None:
        """Raise :class:`UnknownProject` if Label Studio has no such project (for this token)."""

    def export(self, project_id: int) -> bytes:
        """The project's annotated tasks in Label Studio's JSON export format."""


class SdkSource:
    """Label Studio through ``label-studio-sdk`` (the ``spert[label-studio]`` extra)."""

    def __init__(self, url: str, api_key: str) -> None:
        try:
            from label_studio_sdk import LabelStudio
        except ImportError:
            raise SpertError("training from Label Studio needs label-studio-sdk: "
                             "pip install 'spert[label-studio]'") from None
        self.client = LabelStudio(base_url=url, api_key=api_key)

    def check_project(self, project_id: int) -> None:
        from label_studio_sdk.core.api_error import ApiError

        try:
            self.client.projects.get(project_id)
        except ApiError as e:
            if e.status_code in (403, 404):
                raise UnknownProject(f"Label Studio has no project {project_id} for this token") from None
            raise

    def export(self, project_id: int) -> bytes:
        return b"".join(self.client.projects.exports.download_sync(project_id, export_type="JSON"))


def main_score(metrics: dict[str, Any], has_relations: bool) -> float:
    return Metrics.from_json(metrics).main_score(has_relations)


class Trainer:
    """Training rounds, one per project at a time, and what the last one of each did."""

    def __init__(self, store: VersionStore, make_job: Callable[[Path, str], FinetuneJob],
                 source: Callable[[], ExportSource], on_switch: Callable[[str], Awaitable[None]]) -> None:
        self.store, self.make_job, self.source, self.on_switch = store, make_job, source, on_switch
        self.rounds: dict[int, dict[str, Any]] = {}  # project -> status of its last (or running) round
        self.tasks: dict[int, asyncio.Task] = {}
        self.processes: dict[int, asyncio.subprocess.Process] = {}
        self.switch_lock = asyncio.Lock()

    def running(self, project: int) -> bool:
        return project in self.tasks and not self.tasks[project].done()

    def start(self, project: int, reason: str, text_key: str) -> dict[str, Any]:
        """Start a round for ``project`` (its tasks' text under ``text_key``); a 409 while one runs for it."""
        if self.running(project):
            raise ClientError(409, "training", f"project {project} is already training "
                                               f"(round {self.rounds[project]['round']}); one at a time")
        number = int(time.time() * 1000)
        status = {"project": project, "round": f"p{project}-{number}", "reason": reason, "text_key": text_key, "stage": "fetching",
                  "started": time.time(), "finished": None}
        self.rounds[project] = status
        self.tasks[project] = asyncio.create_task(self._round(project, status))
        return self.status(project)

    def status(self, project: int) -> dict[str, Any]:
        """The project's last round, with the progress its process wrote."""
        status = dict(self.rounds.get(project) or {"project": project, "stage": "never trained"})
        job_dir = status.get("job_dir")
        if job_dir and status["finished"] is None and (Path(job_dir) / PROGRESS).exists():
            status["progress"] = json.loads((Path(job_dir) / PROGRESS).read_text(encoding="utf-8"))
        return status

    async def _round(self, project: int, status: dict[str, Any]) -> None:
        try:
            await self._run(project, status)
        except Exception as e:  # noqa: BLE001  a failed round is reported, the server keeps serving
            status.update(stage="failed", error=str(e).splitlines()[0] if str(e) else type(e).__name__)
            if not isinstance(e, SpertError):
                log.exception("training round %s failed", status["round"])
            else:
                log.warning("training round %s failed: %s", status["round"], e)
        finally:
            status["finished"] = time.time()
            self.processes.pop(project, None)

    async def _run(self, project: int, status: dict[str, Any]) -> None:
        job_dir = self.store.job_dir(status["round"])
        status["job_dir"] = str(job_dir)
        export = await asyncio.to_thread(self.source().export, project)
        (job_dir / "export.json").write_bytes(export)
        started_from = self.store.serving()
        job = self.make_job(job_dir / "export.json", status["text_key"])
        job.start_model = str(self.store.path(started_from))
        job.write(job_dir)
        status.update(stage="training", started_from=started_from)
        with open(job_dir / "train.log", "wb") as logfile:
            proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "spert.train.ls_finetune",
                                                        str(job_dir), stdout=logfile, stderr=logfile)
            self.processes[project] = proc
            code = await proc.wait()
        result = json.loads((job_dir / RESULT).read_text(encoding="utf-8")) if (job_dir / RESULT).exists() else {}
        if code != 0 or "error" in result:
            raise SpertError(result.get("error") or f"the training process ended with status {code}; "
                                                     f"see {job_dir / 'train.log'}")
        await self._decide(project, status, result, started_from)

    async def _decide(self, project: int, status: dict[str, Any], result: dict[str, Any], started_from: str) -> None:
        rel = result["has_relations"]
        new = main_score(result["candidate"], rel)
        old = None if result["current"] is None else main_score(result["current"], rel)
        accepted = old is None or new >= old
        status.update(import_summary=result["import"], import_report=result["import_report"],
                      train_records=result["train_records"], held_out_records=result["held_out_records"],
                      seconds=result["seconds"], candidate=result["candidate"], current=result["current"],
                      score={"candidate": new, "serving": old, "metric": "rel_plus" if rel else "ner"})
        async with self.switch_lock:
            name = self.store.add(Path(result["candidate_dir"]), {
                "project": project, "round": status["round"], "parent": started_from, "accepted": accepted,
                "score": status["score"], "metrics": result["candidate"], "train_records": result["train_records"],
                "held_out_records": result["held_out_records"]})
            status.update(version=name, accepted=accepted)
            if accepted:
                self.store.promote(name)
                if self.store.pinned() is None:
                    await self.on_switch(name)
        status["stage"] = "accepted" if accepted else "rejected (worse on the held-out share)"
        log.info("training round %s: %s (%s %.4f, serving %s)", status["round"], status["stage"], name, new,
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
