"""Data: the type schema, annotated documents and their readers (SpERT JSON, JSON Lines,
DyGIE), raw-text tokenization into words and sentences with character offsets, the records that
go into and come out of an extractor (:mod:`records`), and the importers of annotation
tools. Everything here is torch-free and checks its input at the
boundary: a bad record is an error naming the file, the document or line, and the field.
Depends only on ``spert.errors`` and ``spert.atomic``."""
