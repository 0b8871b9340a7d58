"""Inference: the scored results of a prediction (``results``, torch-free), decoding a model's
outputs into them (``decoding``: the symmetric and no-overlap rules, torch-free), running a
model over documents in length-sorted batches (``runner``), windows for sentences longer than
the encoder takes (``windows``), the Python API facade (:class:`spert.infer.extractor.SpERT`),
and streaming prediction over files (``stream``, writing SpERT JSON or an annotation tool's
pre-annotations through :mod:`spert.data.formats.registry`; on a Ray cluster, ``ray``).
Depends on ``model`` and ``data``; scoring the results is ``eval``'s."""
