"""Evaluation: NER, REL and REL+ metrics exactly as the spec defines them (pure functions
over typed tuples) and human-readable views of predictions (HTML pages, tables). Reads
prediction records from ``infer``; never loads or trains a model itself."""
