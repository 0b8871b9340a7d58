"""``spert bench`` and ``spert convert``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from spert.cli.app import VERBOSE, app, setup_logging


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
          backends: str = typer.Option("torch", "--backends",
                                       help="runtimes to compare on the same batches: torch (always, the reference), "
                                            "torch-int8, onnx, onnx-int8 (ONNX ones need the onnx extra)"),
          quantize: bool = typer.Option(False, "--quantize", help="also measure PyTorch's dynamic int8 "
                                                                  "(same as adding torch-int8 to --backends)"),
          no_naive: bool = typer.Option(False, "--no-naive", help="skip the naive reference"),
          seed: int = typer.Option(0, "--seed", help="seed for untrained heads and training samples"),
          verbose: bool = VERBOSE) -> None:
    """Benchmark inference and training throughput, against the naive reference, and time and
    memory against sentence length; prints a table and writes JSON and a plot."""
    from spert.tools.bench.tables import format_report
    from spert.tools.bench.run import run_bench, write_outputs
    from spert.tools.bench.settings import BenchSettings, parse_backends, parse_int_list

    setup_logging(verbose)
    settings = BenchSettings(model=model, data=data, types=types,
                             batch_sizes=parse_int_list(batch_sizes, "--batch-sizes") or (8,),
                             backends=parse_backends(backends) + (("torch-int8",) if quantize else ()),
                             repeats=repeats, naive_repeats=naive_repeats, train_updates=train_updates,
                             lengths=parse_int_list(lengths, "--lengths"), length_repeats=length_repeats,
                             max_docs=max_docs, naive=not no_naive, seed=seed)
    result = run_bench(settings)
    write_outputs(result, json_out, plot if plot is not None else json_out.with_suffix(".png"))
    typer.echo(format_report(result))
    typer.echo(f"wrote {json_out}" + (f" and {result.plot}" if result.plot else ""))


@app.command()
def convert(old_dir: Path = typer.Argument(..., help="checkpoint directory of the authors' implementation"),
            new_dir: Path = typer.Argument(..., help="model directory to write (what --model accepts)"),
            types: Optional[Path] = typer.Option(None, "--types", "-t",
                                                 help="the dataset's types file; default: a *types*.json in "
                                                      "OLD_DIR, else placeholder names (with a warning)"),
            max_span_size: int = typer.Option(10, "--max-span-size", min=1, help="longest candidate span, in words"),
            threshold: Optional[float] = typer.Option(None, "--rel-filter-threshold", min=0, max=1,
                                                      help="default relation threshold stored with the model "
                                                           "(default: spert's)"),
            lowercase: Optional[bool] = typer.Option(None, "--lowercase/--no-lowercase",
                                                     help="default: the checkpoint's tokenizer setting, "
                                                          "lowercasing an uncased vocabulary")) -> None:
    """Convert a checkpoint of the authors' SpERT (CoNLL04, SciERC, ADE models) into a model directory."""
    from spert.tools.convert import convert_checkpoint, describe

    setup_logging()
    report = convert_checkpoint(old_dir, new_dir, types=types, max_span_size=max_span_size,
                                rel_filter_threshold=threshold, lowercase=lowercase)
    typer.echo(describe(report))
