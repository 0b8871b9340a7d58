"""Integrations: a trained SpERT model inside other libraries' pipelines. ``spacy_pipe`` holds the
spaCy pipeline component (the ``spert`` factory, registered through spaCy's ``spacy_factories``
entry point), which predicts on the pipeline's own tokens and sentences and writes entities and
relations onto the ``Doc``, and a helper that renders such docs as ``spert render`` does. Uses the
Python API (``spert.SpERT``), the prediction records and the HTML views; nothing below imports it."""
