"""One training round of the Label Studio backend, run in a process of its own.

``python -m spert.integrations.label_studio.finetune JOB_DIR`` reads ``JOB_DIR/job.json`` (a
:class:`~.jobs.FinetuneJob`), and then:

1. imports the project's export with the code of ``spert data import labelstudio``
   (:func:`spert.data.formats.importer.import_annotations`: the same records, types and
   change report, written beside the records as ``train.summary.json``);
2. splits the records by document (task) into a training part and a held-out share
   (:func:`spert.data.split.split_by_ratios`, seeded);
3. trains with :func:`spert.train.loop.train` from the serving model. If the project's types
   are among the model's, the model's type schema is kept and training starts from the
   whole serving model, encoder and heads (``init_model``), so that each round goes on
   from the last and the new model and the serving one are scored on the same types;
   otherwise the project's types make a new schema, and new heads are trained on the
   serving model's encoder (written as a Hugging Face encoder directory first, which
   is also where every round's tokenizer and encoder config come from);
4. scores the serving model on the same held-out share (when the types allow it) and
   writes ``result.json`` (a :class:`~.jobs.FinetuneResult`): the change report, both scores,
   and the candidate's directory.

Progress (epochs done, of how many) is written to ``progress.json`` after every epoch.
The backend (:mod:`.rounds`) decides from ``result.json`` whether the candidate serves.
The files and their records are those of :mod:`.jobs`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from spert.atomic import WriteError
from spert.data.documents import write_records
from spert.data.formats.common import ImportOptions
from spert.data.formats.importer import import_annotations, write_import
from spert.data.schema import TypeSchema
from spert.data.split import split_by_ratios
from spert.data.text import TextTokenizer
from spert.errors import SpertError
from spert.integrations.label_studio.jobs import FinetuneFailure, FinetuneJob, FinetuneResult, ImportCounts, Progress
from spert.model.checkpoint import load_model, read_meta
from spert.model.encoders import max_subwords
from spert.model.encoding import subword_counter
from spert.train.config import load_config, read_config_file
from spert.infer.options import PredictOptions
from spert.train.evaluation import evaluate_directory
from spert.train.loop import train

log = logging.getLogger(__name__)


def run_job(job_dir: Path) -> FinetuneResult:
    """The whole round (see the module's docstring); returns what it writes to ``result.json``."""
    t0 = time.perf_counter()
    job = FinetuneJob.read(job_dir)
    data = job_dir / "data"
    meta = read_meta(job.start_model)
    encoder = job_dir / "encoder"
    net, tokenizer, _ = load_model(job.start_model)
    net.encoder.save_pretrained(encoder)  # the serving model's encoder, as training loads one
    tokenizer.save_pretrained(encoder)
    limit, model_schema = max_subwords(net.encoder.config, tokenizer), net.schema
    del net
    counts = import_and_split(job, data, model_schema, meta["model"]["max_span_size"], limit)
    types = json.loads((data / "types.json").read_text(encoding="utf-8"))
    same_types = types == model_schema.to_json()
    cfg = load_config(None, {**_settings(job, meta), "encoder": str(encoder), "train_path": str(data / "train.json"),
                             "types_path": str(data / "types.json"), "valid_path": None,
                             "test_path": str(data / "held_out.json"), "output_dir": str(job_dir / "run"),
                             "init_model": job.start_model if same_types else None})

    def on_epoch_end(epoch: int, state: Any) -> None:
        Progress("training", epoch, cfg.epochs).write(job_dir)

    Progress("training", 0, cfg.epochs).write(job_dir)
    result = train(cfg, show_progress=False, on_epoch_end=on_epoch_end)
    Progress("scoring the serving model", cfg.epochs, cfg.epochs).write(job_dir)
    current = None
    if same_types:
        current = evaluate_directory(Path(job.start_model), data / "held_out.json", job_dir / "current_eval",
                                     PredictOptions(batch_size=cfg.eval_batch_size),
                                     types=data / "types.json").metrics.to_json()
    out = FinetuneResult(candidate_dir=str(job_dir / "run" / "model"), candidate=result.metrics.to_json(),
                         current=current, same_types=same_types, has_relations=bool(types["relations"]),
                         epochs=cfg.epochs, seconds=round(time.perf_counter() - t0, 2), counts=counts)
    out.write(job_dir)
    Progress("done", cfg.epochs, cfg.epochs).write(job_dir)
    return out


def import_and_split(job: FinetuneJob, data: Path, model_schema: TypeSchema, max_span_size: int,
                     limit: int) -> ImportCounts:
    """``spert data import labelstudio`` of the export, then the training part and the held-out share.

    The types file is the model's when the project's types are among them, else the project's."""
    options = ImportOptions(max_span_size=max_span_size, max_subwords=limit)
    imported = import_annotations("labelstudio", job.export, options, tokenizer=TextTokenizer(job.spacy_model),
                                  subword_counts=subword_counter(job.start_model), pick="latest",
                                  text_field=job.text_field)
    if len(imported.records) < 2:
        raise SpertError(f"{job.export}: {len(imported.records)} annotated sentences; training needs at least 2 "
                         "(one to train on, one to score)")
    known = model_schema.to_json()
    if set(imported.types["entities"]) <= set(known["entities"]) and \
            set(imported.types["relations"]) <= set(known["relations"]):
        imported.types = known
    summary = write_import(imported, data / "all.json", data / "types.json")
    train_part, held_out = split_by_ratios(imported.records, (1 - job.held_out, job.held_out), job.seed)
    write_records(data / "train.json", [imported.records[i] for i in train_part.records])
    write_records(data / "held_out.json", [imported.records[i] for i in held_out.records])
    return ImportCounts(import_summary=imported.summary.to_json(), import_report=imported.summary.format(),
                        summary_path=str(summary), train_records=len(train_part.records),
                        held_out_records=len(held_out.records))


def _settings(job: FinetuneJob, meta: dict[str, Any]) -> dict[str, Any]:
    """The serving model's settings, under the backend's training file, under its overrides."""
    raw: dict[str, Any] = {**meta["model"], **meta.get("inference", {})}
    if job.train_config is not None:
        raw.update(read_config_file(job.train_config))
    raw.update(job.overrides)
    return raw


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    job_dir = Path(argv[0])
    try:
        run_job(job_dir)
    except SpertError as e:  # the user's data or settings: one line for the status endpoint
        FinetuneFailure(str(e)).write(job_dir)
        return 2
    except WriteError as e:  # a full disk: the serving model and its versions are untouched
        try:
            FinetuneFailure(f"{e.filename}: cannot write it: {e.strerror}").write(job_dir)
        except OSError:  # no room even for that line: the round says "status 2, see train.log"
            pass
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
