"""Annotation formats: brat standoff, doccano JSON Lines and Label Studio JSON, each in one module
with its reader and its pre-annotation writer side by side, registered by name in
:mod:`registry`.

A reader turns the tool's export into :class:`common.SourceDocument` objects (raw text with
character-offset entities and id-based relations), checking offsets and quoted text at the
boundary; :func:`alignment.to_records` then maps characters to the words ``spert predict``
sees (the same spaCy tokenizer, words split at entity boundaries) and records every item
it could not carry over exactly in an :class:`common.ImportSummary`
(:func:`importer.import_annotations` does both). A writer turns
:class:`spert.data.records.Prediction` records into files the tool imports for correction;
every writer is atomic, and reading its output back gives the predictions."""
