"""What crosses the process boundary of a training round: the job, its progress and its result.

The backend (:mod:`.rounds`) writes a :class:`FinetuneJob` to ``JOB_DIR/job.json`` and starts
``python -m spert.integrations.label_studio.finetune JOB_DIR`` (:mod:`.finetune`), which
writes :class:`Progress` to ``progress.json`` after every epoch and, at the end, a
:class:`FinetuneResult` (or a :class:`FinetuneFailure`) to ``result.json``. Each record is
turned into JSON here and nowhere else, and every file is written atomically, so a reader
never sees half of one. This module imports neither PyTorch nor the training code: the
server reads these files without loading them.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from spert.atomic import atomic_write_text

JOB, PROGRESS, RESULT = "job.json", "progress.json", "result.json"


@dataclass(frozen=True)
class FinetuneJob:
    export: str  # Label Studio JSON export (a list of tasks)
    start_model: str  # the serving model's directory
    held_out: float  # share of tasks scored, not trained on (LabelStudioSettings.held_out)
    seed: int  # of the held-out split (LabelStudioSettings.seed)
    text_field: str | None = None  # the task data key of the text (None: as spert data import guesses)
    train_config: str | None = None  # a spert train YAML file
    overrides: dict[str, Any] = field(default_factory=dict)  # training settings over the file's
    spacy_model: str | None = None  # the tokenizer prediction uses

    def write(self, job_dir: Path) -> None:
        atomic_write_text(job_dir / JOB, json.dumps(asdict(self), indent=2))

    @classmethod
    def read(cls, job_dir: Path) -> FinetuneJob:
        return cls(**json.loads((job_dir / JOB).read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Progress:
    stage: str  # "training", "scoring the serving model", "done"
    epoch: int  # epochs done
    epochs: int  # of how many

    def write(self, job_dir: Path) -> None:
        atomic_write_text(job_dir / PROGRESS, json.dumps({**asdict(self), "at": time.time()}))

    @staticmethod
    def read(job_dir: Path) -> dict[str, Any] | None:
        """The last progress written (with the time it was written), if any."""
        path = job_dir / PROGRESS
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


@dataclass(frozen=True)
class ImportCounts:
    """What the import and split of a project's export gave."""

    import_summary: dict[str, Any]  # the change report's figures ("import" in result.json)
    import_report: str  # the change report, as spert data import prints it
    summary_path: str  # where it was written (train.summary.json beside the records)
    train_records: int
    held_out_records: int


@dataclass(frozen=True)
class FinetuneResult:
    """A finished round: the candidate, both scores on the held-out share, and the import's report."""

    candidate_dir: str  # the trained model's directory
    candidate: dict[str, Any]  # its metrics on the held-out share (Metrics.to_json)
    current: dict[str, Any] | None  # the serving model's on the same share (None: the types differ)
    same_types: bool  # the project's types are among the serving model's
    has_relations: bool  # the types have relations (the score is REL+, else NER)
    epochs: int
    seconds: float
    counts: ImportCounts

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "counts"}
        counts = asdict(self.counts)
        return {**out, "import": counts.pop("import_summary"), **counts}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> FinetuneResult:
        counts = ImportCounts(import_summary=obj["import"], **{f.name: obj[f.name] for f in fields(ImportCounts)
                                                               if f.name != "import_summary"})
        return cls(counts=counts, **{f.name: obj[f.name] for f in fields(cls) if f.name != "counts"})

    def write(self, job_dir: Path) -> None:
        atomic_write_text(job_dir / RESULT, json.dumps(self.to_json(), indent=2))


@dataclass(frozen=True)
class FinetuneFailure:
    """A round that stopped on the user's data or settings: one line for the status endpoint."""

    error: str

    def write(self, job_dir: Path) -> None:
        atomic_write_text(job_dir / RESULT, json.dumps(asdict(self)))


def read_result(job_dir: Path) -> FinetuneResult | FinetuneFailure | None:
    """What the round's process wrote to ``result.json`` (None: nothing, e.g. it was killed)."""
    path = job_dir / RESULT
    if not path.exists():
        return None
    obj = json.loads(path.read_text(encoding="utf-8"))
    return FinetuneFailure(obj["error"]) if "error" in obj else FinetuneResult.from_json(obj)
