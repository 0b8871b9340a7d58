"""``spert data``: annotation data in (``import``), what it holds (``stats``), splits by document (``split``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from spert.cli.app import app
from spert.cli.predict import LANGUAGE
from spert.model.settings import ModelSettings, default_of

data_app = typer.Typer(no_args_is_help=True, help="Datasets: import from annotation tools, statistics, split by document.")
app.add_typer(data_app, name="data")

ENCODER = typer.Option(None, "--encoder",
                       help="encoder name or model directory whose tokenizer counts subwords "
                            "(default: the default encoder)")
MAX_SUBWORDS = typer.Option(512, "--max-subwords", min=8,
                            help="the encoder's longest input, start and end tokens included")
MAX_SPAN = typer.Option(default_of(ModelSettings, "max_span_size"), "--max-span-size", min=1, help="longest entity SpERT will train on, in words")


def _subword_counter(encoder: Optional[str]):
    from spert.model.encoding import subword_counter  # lazy: transformers loads only when a command needs it

    return subword_counter(encoder)


@data_app.command("import", epilog="Every entity or relation that is not carried over exactly (a discontinuous "
                                   "entity, a relation across sentences or to an unknown id, a duplicate, an "
                                   "entity longer than --max-span-size words, ...) is counted by reason, with "
                                   "examples, in a summary printed and written beside the output "
                                   "(OUT.summary.json). --strict refuses the first such change instead. "
                                   "Malformed input (bad offsets, quoted text that differs from the text, "
                                   "invalid JSON) stops with an error naming file, line and id; nothing is "
                                   "written then.")
def import_(fmt: str = typer.Argument(..., metavar="FORMAT", help="brat, doccano or labelstudio"),
            source: Path = typer.Argument(..., metavar="SOURCE",
                                          help="brat: a directory of .txt/.ann; doccano: .jsonl; "
                                               "labelstudio: the JSON export"),
            output: Path = typer.Option(..., "--output", "-o", help="SpERT JSON to write (.json; .jsonl: JSON Lines)"),
            types_output: Path = typer.Option(..., "--types-output", help="types file to write"),
            discontinuous: str = typer.Option("skip", "--discontinuous",
                                              help="discontinuous entities: skip, or cover (the span covering "
                                                   "the fragments)"),
            documents: str = typer.Option("split", "--documents",
                                          help="split: one record per sentence; keep: one per document, cut at "
                                               "sentence boundaries to fit the encoder (in both, a sentence longer "
                                               "than the encoder is cut into windows)"),
            symmetric: List[str] = typer.Option([], "--symmetric", help="a symmetric relation type (repeatable)"),
            max_span_size: int = MAX_SPAN,
            no_overlap: bool = typer.Option(False, "--no-overlap",
                                            help="drop overlapping entities (data that must not overlap, as ADE)"),
            strict: bool = typer.Option(False, "--strict", help="any change to an entity or relation is an error"),
            pick: Optional[str] = typer.Option(None, "--annotation",
                                               help="labelstudio: which annotation of a task: latest (the default), "
                                                    "first, or prediction"),
            text_field: Optional[str] = typer.Option(None, "--text-field",
                                                     help="labelstudio: the task data key holding the text"),
            language: Optional[str] = LANGUAGE,
            spacy_model: Optional[str] = typer.Option(None, "--spacy-model",
                                                      help="spaCy pipeline for words and sentences: use the one "
                                                           "you will predict with (default: rule-based English)"),
            encoder: Optional[str] = ENCODER, max_subwords: int = MAX_SUBWORDS) -> None:
    """Import brat, doccano or Label Studio annotations as SpERT JSON and a types file."""
    from spert.data.formats.common import ImportOptions
    from spert.data.formats.importer import import_annotations, write_import
    from spert.data.text import TextTokenizer, text_pipeline

    options = ImportOptions(discontinuous=discontinuous, documents=documents,  # type: ignore[arg-type]
                            max_span_size=max_span_size, no_overlap=no_overlap, symmetric=frozenset(symmetric),
                            strict=strict, max_subwords=max_subwords)
    result = import_annotations(fmt, source, options, tokenizer=TextTokenizer(text_pipeline(language, spacy_model)),
                                subword_counts=_subword_counter(encoder), pick=pick, text_field=text_field)
    summary = write_import(result, output, types_output)
    typer.echo(result.summary.format())
    typer.echo(f"wrote {output}, {types_output} and {summary}")


@data_app.command("stats")
def stats(file: Path = typer.Argument(..., metavar="FILE", help="SpERT JSON or JSON Lines"),
          max_span_size: int = MAX_SPAN,
          encoder: Optional[str] = ENCODER,
          max_subwords: int = MAX_SUBWORDS,
          no_subwords: bool = typer.Option(False, "--no-subwords", help="do not load a tokenizer to count subwords"),
          json_out: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Documents, sentences, words, entities and relations per type, span lengths, nesting, relation distances
    and records over the encoder's subwords."""
    from spert.data.stats import dataset_stats

    counter = None if no_subwords else _subword_counter(encoder)
    st = dataset_stats(file, max_span_size=max_span_size, max_subwords=max_subwords, subword_counts=counter)
    typer.echo(json.dumps(st.to_json(), indent=2) if json_out else st.format())


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
    from spert.data.split import split_file

    written = split_file(file, output_dir, ratios=ratios, folds=folds, seed=seed, name=name)
    for path, part in written.parts.items():
        typer.echo(f"{path}: {len(part.records)} sentences")
    typer.echo(f"wrote {written.manifest}")
