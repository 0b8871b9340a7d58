"""Training: the spec's negative sampling, the optimiser (AdamW without bias correction)
and schedule, typed training settings read from YAML and the command line, and the
training loop (Accelerate: CPU, GPU, mixed precision, data parallel, resumable runs).
Uses ``infer`` and ``eval`` for validation; depends on nothing above it."""
