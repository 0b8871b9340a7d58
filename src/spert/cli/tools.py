"""``spert bench`` (with ``spert bench serve``) and ``spert convert``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from spert.cli.app import MODEL_DIR, VERBOSE, app, setup_logging
from spert.infer.options import PredictOptions, default
from spert.model.settings import ModelSettings, default_of

bench_app = typer.Typer(help="Benchmark inference and training (spert bench --model DIR), or serving "
                             "(spert bench serve --model DIR).")
app.add_typer(bench_app, name="bench", subcommand_metavar="[serve ...]")


@bench_app.callback(invoke_without_command=True)
def bench(ctx: typer.Context,
          model: Optional[str] = typer.Option(None, "--model", "-m",
                                              help="model directory, or an encoder name/directory (untrained "
                                                   "heads); required unless a command follows"),
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
    memory against sentence length; prints a table and writes JSON and a plot. `spert bench serve`:
    the load test of spert serve."""
    if ctx.invoked_subcommand is not None:
        _no_options_before(ctx)
        return
    if model is None:
        raise typer.BadParameter("needed unless a command follows (spert bench serve --model DIR)", ctx=ctx,
                                 param=next(p for p in ctx.command.params if p.name == "model"))

    from spert.tools.bench.tables import format_report
    from spert.tools.bench.run import run_bench, write_outputs
    from spert.tools.bench.settings import BenchSettings, parse_backends, parse_positive_ints

    setup_logging(verbose)
    settings = BenchSettings(model=model, data=data, types=types,
                             batch_sizes=parse_positive_ints(batch_sizes, "--batch-sizes") or (8,),
                             backends=parse_backends(backends) + (("torch-int8",) if quantize else ()),
                             repeats=repeats, naive_repeats=naive_repeats, train_updates=train_updates,
                             lengths=parse_positive_ints(lengths, "--lengths"), length_repeats=length_repeats,
                             max_docs=max_docs, naive=not no_naive, seed=seed)
    result = run_bench(settings)
    write_outputs(result, json_out, plot if plot is not None else json_out.with_suffix(".png"))
    typer.echo(format_report(result))
    typer.echo(f"wrote {json_out}" + (f" and {result.plot}" if result.plot else ""))


def _no_options_before(ctx: typer.Context) -> None:
    """``spert bench --repeats 5 serve ...``: the option belongs to the other benchmark; say so, never ignore it."""
    sources = {p.name: ctx.get_parameter_source(p.name) for p in ctx.command.params}
    given = [p for p in ctx.command.params if getattr(sources[p.name], "name", None) == "COMMANDLINE"]
    if given:
        raise typer.BadParameter(f"an option of spert bench itself, not of spert bench {ctx.invoked_subcommand}; "
                                 "put the command's options after its name", ctx=ctx, param=given[0])


@bench_app.command("serve")
def bench_serve(model: Path = MODEL_DIR,
                data: Path = typer.Option(Path("data/conll04/conll04_test.json"), "--data", "-d",
                                          help="SpERT JSON; each document's tokens joined by spaces are one request"),
                clients: str = typer.Option("1,8,32", "--clients", help="concurrent clients per level, comma-separated"),
                batch_size: int = typer.Option(default(PredictOptions, "batch_size"), "--batch-size", min=1,
                                               help="sentences per forward pass, offline and served"),
                limit: Optional[int] = typer.Option(None, "--limit", min=1, help="use only the first N sentences"),
                rounds: int = typer.Option(1, "--rounds", min=1, help="send every sentence this many times per level"),
                threads: Optional[int] = typer.Option(None, "--threads", min=1,
                                                      help="PyTorch threads offline and in the server "
                                                           "(default: cores)"),
                url: Optional[str] = typer.Option(None, "--url", help="a running server instead of starting one"),
                server_flag: Optional[List[str]] = typer.Option(None, "--server-flag",
                                                                help="extra spert serve flag (repeatable), "
                                                                     "e.g. --server-flag=--max-wait-ms=2"),
                json_out: Optional[Path] = typer.Option(None, "--json", help="also write the results here"),
                verbose: bool = VERBOSE) -> None:
    """Load test of spert serve over loopback, beside offline prediction on the same sentences:
    throughput and latency at each number of concurrent clients, every answer compared with the
    one-at-a-time offline record, server CPU time per sentence. Needs the serve extra."""
    from spert.tools.bench.loadtest import run_loadtest, write_result
    from spert.tools.bench.settings import LoadTestSettings, parse_positive_ints
    from spert.tools.bench.tables import format_load_test

    setup_logging(verbose)
    settings = LoadTestSettings(model=model, data=data, clients=parse_positive_ints(clients, "--clients"),
                                batch_size=batch_size, limit=limit, rounds=rounds, threads=threads, url=url,
                                server_flags=tuple(server_flag or ()))
    result = run_loadtest(settings)
    typer.echo(format_load_test(result))
    if json_out is not None:
        write_result(result, json_out)


@app.command()
def convert(old_dir: Path = typer.Argument(..., help="checkpoint directory of the authors' implementation"),
            new_dir: Path = typer.Argument(..., help="model directory to write (what --model accepts)"),
            types: Optional[Path] = typer.Option(None, "--types", "-t",
                                                 help="the dataset's types file; default: a *types*.json in "
                                                      "OLD_DIR, else placeholder names (with a warning)"),
            max_span_size: int = typer.Option(default_of(ModelSettings, "max_span_size"), "--max-span-size", min=1,
                                               help="longest candidate span, in words"),
            threshold: Optional[float] = typer.Option(None, "--rel-filter-threshold", min=0, max=1,
                                                      help="default relation threshold stored with the model "
                                                           "(default: spert's)"),
            lowercase: Optional[bool] = typer.Option(None, "--lowercase/--no-lowercase",
                                                     help="default: the checkpoint's tokenizer setting, "
                                                          "lowercasing an uncased vocabulary")) -> None:
    """Convert a checkpoint of the authors' SpERT (CoNLL04, SciERC, ADE models) into a model directory."""
    from spert.tools.authors_checkpoint import convert_checkpoint, describe

    setup_logging()
    report = convert_checkpoint(old_dir, new_dir, types=types, max_span_size=max_span_size,
                                rel_filter_threshold=threshold, lowercase=lowercase)
    typer.echo(describe(report))
