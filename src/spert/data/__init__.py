"""Data: the type schema, annotated documents (SpERT JSON and JSON Lines read and written, DyGIE
read), raw-text tokenization into words and sentences with character offsets, the records that
go into and come out of an extractor (:mod:`records`), the documents a file's sentences belong
to (:mod:`grouping`: DyGIE lines, or the ``doc_id`` or ``document`` and ``sentence`` fields of SpERT
records, for document context), the scored prediction records (:mod:`predictions`, read by
``eval`` and written by ``infer``), dependency trees over a sentence's words (:mod:`syntax`: the
reference paths of the syntactic context, and parses from a spaCy pipeline), dataset splits and
statistics, and the annotation tools' formats (:mod:`formats`: each one's reader and
pre-annotation writer).
Everything here is torch-free and checks its input at the boundary: a bad record is an error
naming the file, the document or line, and the field. Depends only on ``spert.errors`` and
``spert.atomic``."""
