"""Batch prediction on a Ray cluster (``spert predict ... --ray ADDRESS``; needs the ``ray`` extra).

The driver checks the input line by line and cuts it into the chunks single-process
``spert predict`` would predict (``chunk_size`` good inputs each, so every document is
batched with the same neighbours); the chunks become a Ray Dataset, and a pool of actors,
each holding one model (:class:`SpERT`, either backend), predicts them (``map_batches``,
one chunk a call); the driver writes the records in input order, the same JSON Lines (or SpERT JSON) as single-process ``spert predict``, and
handles bad lines the same way: the first one stops the run with its file and line (no
output written), or with ``skip_errors`` each is named in a warning and counted.

Scaling: every actor loads its own model (~100 MB for MiniLM, about 0.3 GB resident with
PyTorch) and uses ``cpus_per_actor`` threads, or one GPU each when the cluster has GPUs;
actors share nothing but the driver, which reads the input, ships raw lines to the
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

from spert.errors import DataError, SpertError
from spert.infer.extractor import SpERT
from spert.data.records import Input, parse_input
from spert.infer.stream import (OutputWriter, PredictSummary, input_name, load_json_list, parse_line, read_lines,
                                resolve_formats)

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
    """A Ray actor: one model, predicting chunks of inputs exactly as single-process predict does."""

    def __init__(self, model: str, backend: str | None, spacy_model: str | None, fmt: str, name: str,
                 given_entities: bool, batch_size: int, threshold: float | None, no_overlap: bool,
                 threads: int, device: str) -> None:
        import torch

        torch.set_num_threads(threads)
        self.model = SpERT.load(model, backend=backend, spacy_model=spacy_model, device=device)
        self.fmt, self.name, self.given_entities = fmt, name, given_entities
        self.kw = dict(batch_size=batch_size, rel_filter_threshold=threshold, no_overlap=no_overlap,
                       given_entities=given_entities)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        records, errors = [], []
        for chunk in batch["chunk"]:
            inputs = [_parse(self.fmt, self.name, line, raw.encode("utf-8"), self.given_entities)
                      for line, raw in json.loads(chunk)]
            failed: list[DataError] = []
            preds = self.model.predict_inputs(inputs, on_error=failed.append, **self.kw)
            records.append("".join(json.dumps(p.to_json(), ensure_ascii=False) + "\n" for p in preds if p is not None))
            errors.append(json.dumps([[e.line, str(e)] for e in failed]))
        return {"key": batch["key"], "records": np.array(records, dtype=object),
                "errors": np.array(errors, dtype=object)}


def _parse(fmt: str, name: str, line: int, raw: bytes, given_entities: bool) -> Input | None:
    if fmt == "json":  # a record of a SpERT JSON list; ``line`` is its index
        return parse_input(json.loads(raw), given_entities=given_entities, path=name, doc=line)
    return parse_line(raw, fmt, name, line, given_entities)


def _chunks(path: str, fmt: str, chunk_size: int, given_entities: bool, summary: PredictSummary,
            skip_errors: bool) -> Iterator[dict[str, Any]]:
    """The input checked on the driver and cut into the chunks single-process predict would predict
    (``chunk_size`` good inputs each), so that every document is batched with the same neighbours
    and the records come out byte for byte the same. A bad line stops here, or is skipped and counted."""
    name = input_name(path)
    if fmt == "json":
        rows = ((i, json.dumps(obj).encode("utf-8")) for i, obj in enumerate(load_json_list(path, name)))
    else:
        rows = read_lines(path)
    chunk: list[tuple[int, str]] = []
    key = 0
    for line, raw in rows:
        try:
            inp = _parse(fmt, name, line, raw, given_entities)
        except DataError as e:
            if not skip_errors:
                raise
            summary.skip(e, e.line)
            continue
        if inp is None:
            continue
        chunk.append((line, raw.decode("utf-8")))
        if len(chunk) == chunk_size:
            yield {"key": key, "chunk": json.dumps(chunk)}
            key, chunk = key + 1, []
    if chunk:
        yield {"key": key, "chunk": json.dumps(chunk)}


def predict_on_ray(model: str | Path, input_path: str, output_path: str | None, settings: RaySettings, *,
                   backend: str | None = None, spacy_model: str | None = None, in_format: str | None = None,
                   out_format: str | None = None, chunk_size: int = 256, batch_size: int = 8, rel_filter_threshold: float | None = None,
                   no_overlap: bool = False, given_entities: bool = False,
                   skip_errors: bool = False) -> PredictSummary:
    """``spert predict`` with a pool of Ray actors; the same output and error handling (module docs)."""
    if input_path == "-":
        raise SpertError("--ray reads a file, not standard input")
    fin, fout = resolve_formats(input_path, output_path, in_format, out_format, given_entities)
    ray = connect(settings)
    gpus = settings.gpus_per_actor
    if gpus is None:
        gpus = 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # results come back in input order
    ctx.enable_progress_bars = False
    name = input_name(input_path)
    summary = PredictSummary()
    chunks = list(_chunks(input_path, fin, chunk_size, given_entities, summary, skip_errors))
    ds = ray.data.from_items(chunks) if chunks else None
    out = None if ds is None else ds.map_batches(
        Predictor, batch_size=1, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=settings.actors),
        num_cpus=settings.cpus_per_actor, num_gpus=gpus,
        fn_constructor_kwargs=dict(model=str(Path(model).resolve()), backend=backend, spacy_model=spacy_model,
                                   fmt=fin, name=name, given_entities=given_entities, batch_size=batch_size,
                                   threshold=rel_filter_threshold, no_overlap=no_overlap,
                                   threads=settings.cpus_per_actor, device="cuda" if gpus else "cpu"))
    writer = OutputWriter(output_path, fout)
    try:
        expected = 0
        for row in (out.iter_rows() if out is not None else ()):
            if int(row["key"]) != expected:  # preserve_order guarantees this; never write out of order
                raise SpertError(f"Ray returned chunk {row['key']} where {expected} was due")
            expected += 1
            for line, message in json.loads(row["errors"]):
                if not skip_errors:  # the worker's DataError, as single-process predict reports it
                    raise SpertError(message)
                summary.skip(message, line)
            for record in row["records"].splitlines():
                writer.write_serialised(record)
                summary.documents += 1
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return summary

