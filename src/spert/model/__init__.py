"""Model: the SpERT network (encoder, span and relation classifiers) and what it runs on.
What differs between encoder families (``encoders``: the longest input, start and end tokens,
packing), encoder resolution and per-word subword encoding, candidate spans, flat batches, lean
span/context pooling, the relation context of a document window (``context``) or of a dependency
path (``dependency``, batched over a batch's parse trees), the training-vocabulary embedding, and
self-describing model directories (checkpoints) with their settings. Depends on ``spert.data``
below it."""
