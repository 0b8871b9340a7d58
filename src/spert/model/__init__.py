"""Model: the SpERT network (encoder, span and relation classifiers) and what it runs on.
Encoder resolution and per-word subword encoding, candidate spans, flat batches, lean
span/context pooling, the training-vocabulary embedding, and self-describing model
directories (checkpoints) with their settings. Depends on ``spert.data`` below it."""
