"""Evaluation: NER, REL and REL+ metrics exactly as the spec defines them (pure functions
over typed tuples) and human-readable views of predictions (HTML pages, tables, the run
report and its figures). Pure: reads prediction records (:mod:`spert.data.predictions`), never loads,
runs or trains a model, and never imports torch; ``train.evaluation`` predicts and hands the
predictions over."""
