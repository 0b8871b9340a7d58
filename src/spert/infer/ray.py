"""Batch prediction on a Ray cluster (``spert predict ... --ray ADDRESS``; needs the ``ray`` extra).

The driver checks the input line by line, once, and cuts the checked inputs into the chunks
single-process ``spert predict`` would predict (``chunk_size`` good inputs each, so every
document is batched with the same neighbours); the chunks become a Ray Dataset, and a pool of actors,
each holding one model (:class:`SpERT`, either backend), predicts them (``map_batches``,
one chunk a call); the driver writes the records in input order, the same JSON Lines (or SpERT JSON) as single-process ``spert predict``, and
handles bad lines the same way: the first one stops the run with its file and line (no
output written), or with ``skip_errors`` each is named in a warning and counted.

Scaling: every actor loads its own model (~100 MB for MiniLM, about 0.3 GB resident with
PyTorch) and uses ``cpus_per_actor`` threads, or one GPU each when the cluster has GPUs;
actors share nothing but the driver, which reads the input, ships the checked inputs to the
object store and writes the output. Throughput grows with actors until the driver's
reading, serialising and writing (single-threaded, tens of thousands of lines/s) or the
network becomes the bottleneck; README's "Batch prediction on Ray" gives the model.

    ray start --head                                   # or an existing cluster
    spert predict big.jsonl -m MODEL -o out.jsonl --ray auto --ray-actors 8
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from spert.atomic import committed
from spert.data.formats.registry import FORMATS
from spert.data.records import chunked
from spert.errors import DataError, SpertError
from spert.infer.extractor import SpERT
from spert.infer.options import LoadOptions, PredictOptions
from spert.infer.stream import OutputWriter, PredictSummary, StreamSpec, read_inputs

log = logging.getLogger(__name__)



@dataclass
class RaySettings:
    """Where and how wide to run."""

    address: str | None = None  # None or "local": start Ray in this process; "auto": a running `ray start`; or an address
    actors: int = 2
    cpus_per_actor: int = 1  # threads of each actor's model
    gpus_per_actor: float | None = None  # None: 1 when the cluster has GPUs, else 0


def import_ray():
    try:
        import ray
    except ImportError:
        raise SpertError("batch prediction on Ray needs Ray: pip install 'spert[ray]'") from None
    return ray


def connect(settings: RaySettings):
    """Join (or start) Ray; returns the module."""
    ray = import_ray()
    if not ray.is_initialized():
        if settings.address in (None, "local"):
            ray.init(num_cpus=max(settings.actors * settings.cpus_per_actor, 1), include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        else:
            try:
                ray.init(address=settings.address, log_to_driver=False, configure_logging=False)
            except ConnectionError as e:
                raise SpertError(f"--ray {settings.address}: cannot connect to Ray ({str(e).splitlines()[0]}); "
                                 "start it with 'ray start --head' or give a cluster address") from None
    return ray


class Predictor:
    """A Ray actor: one model, predicting chunks of checked inputs exactly as single-process predict does."""

    def __init__(self, model: str, load: LoadOptions, options: PredictOptions, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.model = SpERT.load(model, load)
        self.options = options

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        records, errors = [], []
        for chunk in batch["inputs"]:
            failed: list[DataError] = []
            preds = self.model.predict_inputs(list(chunk), self.options, on_error=failed.append)
            records.append("".join(json.dumps(p.to_json(), ensure_ascii=False) + "\n" for p in preds if p is not None))
            errors.append(json.dumps([[e.line, str(e)] for e in failed]))
        return {"key": batch["key"], "records": np.array(records, dtype=object),
                "errors": np.array(errors, dtype=object)}


def _chunks(spec: StreamSpec, fmt: str, options: PredictOptions, summary: PredictSummary) -> Iterator[dict[str, Any]]:
    """The input checked on the driver, once, and cut into the chunks single-process predict would
    predict (``chunk_size`` good inputs each), so that every document is batched with the same
    neighbours and the records come out byte for byte the same. A bad line stops here, or is
    skipped and counted. The actors get the checked inputs, not the lines."""
    on_error = (lambda e: summary.skip(e, e.line)) if spec.skip_errors else None
    inputs = read_inputs(spec.input, fmt, given_entities=options.given_entities, on_error=on_error)
    for key, chunk in enumerate(chunked(inputs, options.chunk_size)):
        yield {"key": key, "inputs": chunk}


def check_ray_run(spec: StreamSpec, load: LoadOptions) -> None:
    """What the Ray path cannot do, refused before Ray starts."""
    if spec.input == "-":
        raise SpertError("--ray reads a file, not standard input")
    if load.precision != "fp32":
        raise SpertError("--precision is not available with --ray (its actors predict in fp32)")
    if spec.output_format in FORMATS:
        raise SpertError("--output-format (pre-annotations) is not available with --ray; predict JSON Lines with "
                         "--ray, then convert: spert predict OUT.jsonl --output-format ... reads predictions back")


def predict_on_ray(model: str | Path, spec: StreamSpec, settings: RaySettings,
                   options: PredictOptions | None = None, load: LoadOptions | None = None) -> PredictSummary:
    """``spert predict`` with a pool of Ray actors; the same output and error handling (module docs)."""
    opts, load = options or PredictOptions(), (load or LoadOptions()).resolved()
    check_ray_run(spec, load)
    fin, fout = spec.formats(opts.given_entities)
    ray = connect(settings)
    gpus = settings.gpus_per_actor
    if gpus is None:
        gpus = 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # results come back in input order
    ctx.enable_progress_bars = False
    summary = PredictSummary()
    chunks = list(_chunks(spec, fin, opts, summary))
    ds = ray.data.from_items(chunks) if chunks else None
    out = None if ds is None else ds.map_batches(
        Predictor, batch_size=1, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=settings.actors),
        num_cpus=settings.cpus_per_actor, num_gpus=gpus,
        fn_constructor_kwargs=dict(model=str(Path(model).resolve()),
                                   load=load.model_copy(update={"device": "cuda" if gpus else "cpu"}),
                                   options=opts, threads=settings.cpus_per_actor))
    with committed(OutputWriter(spec.output, fout)) as writer:
        expected = 0
        for row in (out.iter_rows() if out is not None else ()):
            if int(row["key"]) != expected:  # preserve_order guarantees this; never write out of order
                raise SpertError(f"Ray returned chunk {row['key']} where {expected} was due")
            expected += 1
            for line, message in json.loads(row["errors"]):
                if not spec.skip_errors:  # the worker's DataError, as single-process predict reports it
                    raise SpertError(message)
                summary.skip(message, line)
            for record in row["records"].splitlines():
                writer.write_serialised(record)
                summary.documents += 1
    return summary
