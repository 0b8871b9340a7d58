"""Inference: the typed options of a prediction and of loading a model (``options``: one frozen
``PredictOptions`` and ``LoadOptions``, every default written there once), decoding a model's
outputs into scored results (``decoding``: the symmetric rule, torch-free; the result records
themselves are :mod:`spert.data.predictions`, below ``eval`` and ``infer`` alike), running a
model over documents in length-sorted batches (``runner``), windows for sentences longer than
the encoder takes (``windows``), the Python API facade (:class:`spert.infer.extractor.SpERT`),
and streaming prediction over files (``stream``, writing SpERT JSON or an annotation tool's
pre-annotations through :mod:`spert.data.formats.registry`; on a Ray cluster, ``ray``).
Depends on ``model`` and ``data``; scoring the results is ``eval``'s."""
