"""``spert data ...``: tools for datasets (splitting by document)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from spert.cli.app import app

data_app = typer.Typer(no_args_is_help=True, help="Work with datasets: split by document.")
app.add_typer(data_app, name="data")


@data_app.command()
def split(file: Path = typer.Argument(..., help="dataset: SpERT JSON or .jsonl"),
          output_dir: Path = typer.Option(..., "--output-dir", "-o", help="where the parts go (created if missing)"),
          ratios: Optional[str] = typer.Option(None, "--ratios", help="train,test or train,dev,test shares, e.g. "
                                               "0.8,0.1,0.1"),
          folds: Optional[int] = typer.Option(None, "--folds", help="k cross-validation folds instead of ratios"),
          seed: int = typer.Option(42, "--seed", help="seed for the shuffle of documents"),
          name: Optional[str] = typer.Option(None, "--name", help="file name prefix (default: the input's stem)")) -> None:
    """Split by document (never a document's sentences across parts): NAME_{train,dev,test}.json for
    --ratios, or NAME_split_{K}_{train,test}.json for --folds (the ADE layout `spert cv` reads)."""
    from spert.data.documents import iter_records
    from spert.data.split import kfold, parse_ratios, part_path, split_by_ratios, write_parts
    from spert.errors import SpertError

    if (ratios is None) == (folds is None):
        raise SpertError("give exactly one of --ratios and --folds")
    records = [obj for _, _, obj in iter_records(file)]
    prefix = name or file.stem
    output_dir.mkdir(parents=True, exist_ok=True)
    if folds is not None:
        pairs = kfold(records, folds, seed)
        files = {part_path(output_dir, prefix, part.name, k): part for k, pair in enumerate(pairs) for part in pair}
        about = {"source": str(file), "seed": seed, "folds": folds}
    else:
        shares = parse_ratios(ratios)
        parts = split_by_ratios(records, shares, seed)
        files = {part_path(output_dir, prefix, part.name): part for part in parts}
        about = {"source": str(file), "seed": seed, "ratios": list(shares)}
    manifest = output_dir / f"{prefix}_split.json"
    write_parts(records, files, manifest, about)
    for path, part in files.items():
        typer.echo(f"{path}: {len(part.records)} sentences")
    typer.echo(f"wrote {manifest}")
