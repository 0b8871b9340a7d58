"""Integrations: a trained SpERT model inside other tools, one home per tool. ``spacy_pipe`` holds the
spaCy pipeline component (the ``spert`` factory, registered through spaCy's ``spacy_factories``
entry point), which predicts on the pipeline's own tokens and sentences and writes entities and
relations onto the ``Doc``, and a helper that renders such docs as ``spert render`` does.
``label_studio`` holds Label Studio's ML backend (``spert serve --label-studio``): its endpoints,
training rounds, fine-tuning process and model versions. They use the Python API (``spert.SpERT``),
the prediction records and the HTML views, and the Label Studio backend the server (``serve``) and
training (``train``), which is why this layer sits above both; nothing below imports it."""
