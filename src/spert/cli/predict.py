"""``spert predict`` (streaming extraction) and ``spert render`` (HTML views)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from spert.cli.app import (BACKEND, BATCH_SIZE, MODEL_DIR, NO_OVERLAP, PRECISION, QUIET, THRESHOLD, VERBOSE, app,
                           setup_logging)
from spert.infer.options import LoadOptions, PredictOptions, default, describe

# shared by spert predict, spert serve and spert data import (spert.data.text.text_pipeline reads it)
LANGUAGE = typer.Option(None, "--language",
                        help="language of raw text: a spaCy language code (de, fr, es, zh, ...: spaCy's rules "
                             "for words and sentences, no download) or an installed spaCy pipeline's name "
                             "(default: English)")


@app.command(epilog="Input: a text file holds one document per line (an empty line is an empty document); "
                    "JSON Lines (.jsonl) one record a line, {\"text\": ...} or {\"tokens\": [...]} (SpERT JSON), "
                    "other fields passed through; SpERT JSON (.json) is a list of records, read whole.\n\n"
                    "Output: one JSON record per document, in input order: text, tokens, sentences (word ranges), "
                    "entities (type, start and end in words, char_start, char_end, text, score) and relations "
                    "(type, head and tail as indices into entities, score).\n\n"
                    "Errors: a bad line stops the run with 'error: FILE: line N: ...' (exit status 2); "
                    "with --skip-errors it is skipped, named in a warning and counted at the end. "
                    "An output file appears only when the run succeeds, never half-written.")
def predict(input: str = typer.Argument(..., metavar="INPUT",
                                        help="text file (one document per line), .jsonl, .json, or - for stdin"),
            model: Path = MODEL_DIR, backend: Optional[str] = BACKEND, precision: str = PRECISION,
            output: Optional[str] = typer.Option(None, "--output", "-o",
                                                 help="output: .jsonl (JSON Lines) or .json (SpERT JSON), a "
                                                      "directory for brat; default: JSON Lines on stdout"),
            input_format: Optional[str] = typer.Option(None, "--input-format",
                                                       help="text, jsonl or json (default: from the suffix; text for -)"),
            output_format: Optional[str] = typer.Option(None, "--output-format",
                                                        help="jsonl or json (default: from the suffix of -o), or "
                                                             "pre-annotations for correction: brat (-o is a "
                                                             "directory), doccano (.jsonl) or labelstudio (.json, "
                                                             "with scores)"),
            export_format: Optional[str] = typer.Option(None, "--format", hidden=True,
                                                        help="the older name of --output-format's pre-annotations"),
            batch_size: int = BATCH_SIZE,
            chunk_size: int = typer.Option(default(PredictOptions, "chunk_size"), "--chunk-size", min=1,
                                           help=describe(PredictOptions, "chunk_size")),
            threshold: Optional[float] = THRESHOLD, no_overlap: bool = NO_OVERLAP,
            given_entities: bool = typer.Option(False, "--given-entities",
                                                help="take the entities from the input records (gold or another "
                                                     "NER system) and predict only relations between them"),
            language: Optional[str] = LANGUAGE,
            spacy_model: Optional[str] = typer.Option(None, "--spacy-model",
                                                      help="installed spaCy pipeline for words and sentences "
                                                           "(default: rule-based English, no download)"),
            skip_errors: bool = typer.Option(False, "--skip-errors",
                                             help="skip bad input lines (reported on stderr) instead of stopping"),
            ray: Optional[str] = typer.Option(None, "--ray", metavar="ADDRESS",
                                              help="predict with a pool of Ray actors: 'local' (start Ray here), "
                                                   "'auto' (a running 'ray start --head') or a cluster address; "
                                                   "needs the ray extra"),
            ray_actors: int = typer.Option(2, "--ray-actors", min=1, help="with --ray: actors, one model each"),
            ray_cpus: int = typer.Option(1, "--ray-cpus-per-actor", min=1,
                                         help="with --ray: CPU threads per actor (GPU actors when the cluster has GPUs)"),
            quiet: bool = QUIET, verbose: bool = VERBOSE) -> None:
    """Extract entities and relations from raw text, JSON Lines or SpERT JSON (streaming)."""
    from spert.infer.extractor import SpERT
    from spert.infer.stream import StreamSpec, run_predict
    from spert.runtime import set_cpu_threads

    setup_logging(verbose)
    load = LoadOptions.make(backend=backend, precision=precision, language=language, spacy_model=spacy_model)
    options = PredictOptions.make(rel_filter_threshold=threshold, no_overlap=no_overlap,
                                  given_entities=given_entities, batch_size=batch_size, chunk_size=chunk_size)
    spec = StreamSpec(input, output, input_format, _output_format(output_format, export_format), skip_errors)
    if ray is not None:
        from spert.infer.ray import RaySettings, predict_on_ray

        _report(predict_on_ray(model, spec, RaySettings(ray, ray_actors, ray_cpus), options, load), output)
        return
    set_cpu_threads()
    extractor = SpERT.load(model, load)
    try:
        summary = run_predict(extractor, spec, options, progress=not quiet)
    except BrokenPipeError:  # e.g. piped into head: the reader has gone, nothing to report
        sys.stderr.close()
        sys.exit(1)
    _report(summary, output)


def _output_format(output_format: Optional[str], export_format: Optional[str]) -> Optional[str]:
    """--output-format, or the older --format (pre-annotations only); not both."""
    if export_format is None:
        return output_format
    if output_format is not None:
        from spert.errors import SpertError

        raise SpertError("--format is the older name of --output-format: give one")
    from spert.data.formats.registry import annotation_format

    return annotation_format(export_format, "pre-annotation format").name


def _report(summary, output: Optional[str]) -> None:
    if summary.skipped:
        lines = ", ".join(map(str, summary.skipped_lines))
        more = ", ..." if summary.skipped > len(summary.skipped_lines) else ""
        typer.echo(f"skipped {summary.skipped} bad inputs" + (f" (lines {lines}{more})" if lines else ""), err=True)
    if output not in (None, "-"):
        typer.echo(f"wrote {summary.documents} documents to {output}", err=True)


@app.command()
def render(predictions: Path = typer.Argument(..., help="predictions: spert predict output or SpERT JSON (.json/.jsonl)"),
           output: Path = typer.Option(..., "--output", "-o", help="HTML page to write"),
           gold: Optional[Path] = typer.Option(None, "--gold", "-g",
                                               help="gold data (SpERT JSON or .jsonl): show gold versus predicted "
                                                    "with errors marked"),
           limit: int = typer.Option(1000, "--limit", min=1, help="show at most this many documents"),
           errors_only: bool = typer.Option(False, "--errors-only", help="with --gold: only documents with errors"),
           title: Optional[str] = typer.Option(None, "--title", help="page title")) -> None:
    """Write a self-contained HTML page: entities highlighted by type, relations listed (like displaCy)."""
    from spert.atomic import atomic_write_text
    from spert.eval.render import read_predictions, render_comparison, render_predictions

    if gold is None:
        page = render_predictions(read_predictions(predictions), limit=limit, title=title or "SpERT predictions")
    else:
        page = render_comparison(read_predictions(gold), read_predictions(predictions), limit=limit,
                                 errors_only=errors_only, title=title or "SpERT: gold versus predicted")
    atomic_write_text(output, page)
    typer.echo(f"wrote {output}")
