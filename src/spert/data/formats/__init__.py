"""Importers of annotation tools' exports (brat standoff, doccano JSON Lines, Label Studio
JSON) into SpERT JSON. Each reader turns its format into :class:`common.SourceDocument`
objects (raw text with character-offset entities and id-based relations), checking
offsets and quoted text at the boundary; :func:`alignment.to_records` then maps characters to
the words ``spert predict`` sees (the same spaCy tokenizer, words split at entity
boundaries) and records every item it could not carry over exactly in an
:class:`common.ImportSummary`."""
