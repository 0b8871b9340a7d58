"""The ``spert`` command line: train, evaluate (and more subcommands as they come).

Every error caused by input is a :class:`SpertError` and ends the command with a
one-line message and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from spert.errors import SpertError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="SpERT: span-based joint entity and relation extraction.")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(message)s")
    for noisy in ("transformers", "accelerate", "httpx", "urllib3", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def _train_epilog() -> str:
    from spert.train.config import settings_help

    return "\b\nSettings (YAML keys, each also a --KEY VALUE option):\n" + settings_help()


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             epilog=_train_epilog())
def train(ctx: typer.Context,
          config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config file"),
          resume: bool = typer.Option(False, "--resume", help="continue the run in output_dir from its last checkpoint"),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
          verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logging")) -> None:
    """Train a model. Any setting of the config can be overridden: --KEY VALUE."""
    from spert.train.config import load_config, parse_overrides
    from spert.train.loop import train as run

    _setup_logging(verbose)
    cfg = load_config(config, parse_overrides(list(ctx.args)))
    run(cfg, resume=resume, show_progress=not quiet)


@app.command()
def evaluate(model: Path = typer.Option(..., "--model", "-m", help="model directory"),
             data: Path = typer.Option(..., "--data", "-d", help="gold data (SpERT JSON or .jsonl)"),
             types: Optional[Path] = typer.Option(None, "--types", help="types file (default: the model's types)"),
             output: Path = typer.Option(..., "--output", "-o", help="directory for metrics.json and predictions.json"),
             batch_size: int = typer.Option(8, "--batch-size", min=1, help="sentences per batch"),
             threshold: Optional[float] = typer.Option(None, "--rel-filter-threshold", min=0, max=1,
                                                       help="relation threshold (default: the model's)"),
             no_overlap: bool = typer.Option(False, "--no-overlap", help="remove overlapping entities (ADE setting)"),
             quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
             verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logging")) -> None:
    """Evaluate a model on gold data: NER, REL and REL+ tables; writes metrics and predictions."""
    from tqdm.auto import tqdm

    from spert.atomic import atomic_write_text
    from spert.model.checkpoint import load_model
    from spert.data.documents import read_documents
    from spert.eval.metrics import evaluate as score, format_metrics, metrics_to_json
    from spert.infer.decoding import predict_documents
    from spert.runtime import set_cpu_threads
    from spert.data.schema import load_types

    _setup_logging(verbose)
    set_cpu_threads()
    net, tokenizer, defaults = load_model(model)
    schema = net.schema
    if types is not None:
        given = load_types(types)
        if given.to_json() != schema.to_json():
            raise SpertError(f"{types}: these types differ from the model's ({model}/spert.json); "
                             "evaluate with the types the model was trained on")
    gold = read_documents(data, schema)
    thr = threshold if threshold is not None else defaults.get("rel_filter_threshold", 0.4)
    preds = predict_documents(net, tokenizer, [d.tokens for d in gold], batch_size=batch_size, threshold=thr,
                              no_overlap=no_overlap, path=data,
                              progress=None if quiet else (lambda total: tqdm(total=total, desc="predict",
                                                                              unit="sent")))
    metrics = score(gold, [p.to_document() for p in preds], no_overlap)
    typer.echo(format_metrics(metrics))
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output / "metrics.json", json.dumps(metrics_to_json(metrics), indent=2))
    atomic_write_text(output / "predictions.json", json.dumps([p.to_json() for p in preds], ensure_ascii=False))
    typer.echo(f"wrote {output / 'metrics.json'} and {output / 'predictions.json'}")


@app.command()
def bench(model: str = typer.Option(..., "--model", "-m",
                                    help="model directory, or an encoder name/directory (untrained heads)"),
          data: Path = typer.Option(Path("data/conll04/conll04_test.json"), "--data", "-d",
                                    help="benchmark sentences (SpERT JSON or .jsonl, with gold annotations)"),
          types: Optional[Path] = typer.Option(None, "--types",
                                               help="types file, for an encoder (default: *_types.json next to --data)"),
          json_out: Path = typer.Option(Path("bench.json"), "--json", help="where the JSON results go"),
          plot: Optional[Path] = typer.Option(None, "--plot", help="length plot (default: the JSON's name, .png)"),
          batch_sizes: str = typer.Option("1,8,32", "--batch-sizes", help="inference batch sizes"),
          lengths: str = typer.Option("25,50,100,200,300", "--lengths",
                                      help="sentence lengths (words) for time and memory; 'none' to skip"),
          train_updates: int = typer.Option(30, "--train-updates", min=0, help="timed training updates (0: skip)"),
          repeats: int = typer.Option(3, "--repeats", min=1, help="interleaved timing repeats (medians reported)"),
          naive_repeats: int = typer.Option(1, "--naive-repeats", min=1, help="repeats of the naive inference"),
          length_repeats: int = typer.Option(3, "--length-repeats", min=1, help="timed runs per length"),
          max_docs: Optional[int] = typer.Option(None, "--max-docs", min=1, help="use only the first N sentences"),
          quantize: bool = typer.Option(False, "--quantize", help="also measure a dynamic int8 encoder"),
          no_naive: bool = typer.Option(False, "--no-naive", help="skip the naive reference"),
          seed: int = typer.Option(0, "--seed", help="seed for untrained heads and training samples"),
          verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logging")) -> None:
    """Benchmark inference and training throughput, against the naive reference, and time and
    memory against sentence length; prints a table and writes JSON and a plot."""
    from spert.tools.bench import BenchSettings, format_report, parse_int_list, run_bench, write_outputs

    _setup_logging(verbose)
    settings = BenchSettings(model=model, data=data, types=types,
                             batch_sizes=parse_int_list(batch_sizes, "--batch-sizes") or (8,),
                             repeats=repeats, naive_repeats=naive_repeats, train_updates=train_updates,
                             lengths=parse_int_list(lengths, "--lengths"), length_repeats=length_repeats,
                             quantize=quantize, max_docs=max_docs, naive=not no_naive, seed=seed)
    result = run_bench(settings)
    write_outputs(result, json_out, plot if plot is not None else json_out.with_suffix(".png"))
    typer.echo(format_report(result))
    typer.echo(f"wrote {json_out}" + (f" and {result['plot']}" if "plot" in result else ""))


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
            model: Path = typer.Option(..., "--model", "-m", help="model directory (spert train or spert convert)"),
            output: Optional[str] = typer.Option(None, "--output", "-o",
                                                 help="output: .jsonl (JSON Lines) or .json (SpERT JSON); "
                                                      "default: JSON Lines on stdout"),
            input_format: Optional[str] = typer.Option(None, "--input-format",
                                                       help="text, jsonl or json (default: from the suffix; text for -)"),
            output_format: Optional[str] = typer.Option(None, "--output-format",
                                                        help="jsonl or json (default: from the suffix of -o)"),
            batch_size: int = typer.Option(8, "--batch-size", min=1, help="sentences per batch"),
            chunk_size: int = typer.Option(256, "--chunk-size", min=1,
                                           help="documents read, predicted and written at a time"),
            threshold: Optional[float] = typer.Option(None, "--rel-filter-threshold", min=0, max=1,
                                                      help="relation threshold (default: the model's)"),
            no_overlap: bool = typer.Option(False, "--no-overlap", help="remove overlapping entities (ADE setting)"),
            given_entities: bool = typer.Option(False, "--given-entities",
                                                help="take the entities from the input records (gold or another "
                                                     "NER system) and predict only relations between them"),
            spacy_model: Optional[str] = typer.Option(None, "--spacy-model",
                                                      help="installed spaCy pipeline for words and sentences "
                                                           "(default: rule-based English, no download)"),
            skip_errors: bool = typer.Option(False, "--skip-errors",
                                             help="skip bad input lines (reported on stderr) instead of stopping"),
            quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
            verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logging")) -> None:
    """Extract entities and relations from raw text, JSON Lines or SpERT JSON (streaming)."""
    from spert.infer.extractor import SpERT
    from spert.infer.stream import run_predict
    from spert.runtime import set_cpu_threads

    _setup_logging(verbose)
    set_cpu_threads()
    extractor = SpERT.load(model, spacy_model=spacy_model)
    try:
        summary = run_predict(extractor, input, output, in_format=input_format, out_format=output_format,
                              chunk_size=chunk_size, batch_size=batch_size, rel_filter_threshold=threshold,
                              no_overlap=no_overlap, given_entities=given_entities, skip_errors=skip_errors,
                              progress=not quiet)
    except BrokenPipeError:  # e.g. piped into head: the reader has gone, nothing to report
        sys.stderr.close()
        sys.exit(1)
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


@app.command()
def convert(old_dir: Path = typer.Argument(..., help="checkpoint directory of the authors' implementation"),
            new_dir: Path = typer.Argument(..., help="model directory to write (what --model accepts)"),
            types: Optional[Path] = typer.Option(None, "--types", "-t",
                                                 help="the dataset's types file; default: a *types*.json in "
                                                      "OLD_DIR, else placeholder names (with a warning)"),
            max_span_size: int = typer.Option(10, "--max-span-size", min=1, help="longest candidate span, in words"),
            threshold: float = typer.Option(0.4, "--rel-filter-threshold", min=0, max=1,
                                            help="default relation threshold stored with the model"),
            lowercase: Optional[bool] = typer.Option(None, "--lowercase/--no-lowercase",
                                                     help="default: the checkpoint's tokenizer setting, "
                                                          "lowercasing an uncased vocabulary")) -> None:
    """Convert a checkpoint of the authors' SpERT (CoNLL04, SciERC, ADE models) into a model directory."""
    from spert.tools.convert import convert_checkpoint, describe

    _setup_logging(False)
    report = convert_checkpoint(old_dir, new_dir, types=types, max_span_size=max_span_size,
                                rel_filter_threshold=threshold, lowercase=lowercase)
    typer.echo(describe(report))


def main() -> None:
    try:
        app()
    except SpertError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
