"""Inference: running a model over documents and decoding its outputs into entities and
relations, windows for sentences longer than the encoder takes, the torch-free prediction
records and inputs, the Python API facade (:class:`spert.infer.extractor.SpERT`) and
streaming prediction over files, and pre-annotations written for annotation tools
(:mod:`spert.infer.export`). Depends on ``model`` and ``data``."""
