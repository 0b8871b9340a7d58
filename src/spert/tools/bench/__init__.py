"""``spert bench``: how fast and how lean this SpERT is, against the naive reference and across
runtimes (PyTorch, its dynamic int8, ONNX Runtime fp32 and int8), in one run.

What is measured, on the same weights and the same batches:

* inference (:mod:`.inference`): sentences/s of ``predict_documents`` (collate, model and
  decode; tokenization excluded) at each batch size, and of the encoder alone on exactly the
  same collated batches; their ratio is what SpERT adds to the encoder's cost. The same for
  every backend (:mod:`.backends`), with F1 per backend, its change against PyTorch, and
  whether fp32 ONNX predicts exactly what PyTorch does;
* the same inference with naive pooling (a (queries x subwords x hidden) tensor per pooling,
  as the authors' code builds), and whether its predictions are identical to ours;
* training (:mod:`.training`): sentences/s over a fixed number of updates, ours and naive;
* time and peak memory of one inference on a synthetic sentence of N words, each in a fresh
  subprocess (:mod:`.memory`), plotted (:mod:`.plot`).

The machine may be shared and noisy: after a warm-up, the backends' passes are interleaved
``repeats`` times and medians are reported; ratios are medians of per-repeat ratios, so drift
in the machine's load cancels out. Models with untrained heads are calibrated first
(:mod:`.calibrate`). :mod:`.run` runs it all and returns a :class:`~.run.BenchResult`;
:mod:`.tables` prints it.

``spert bench serve`` (:mod:`.loadtest`) is the load test of ``spert serve``: throughput,
latency and server CPU time at each number of concurrent HTTP clients, beside offline
prediction of the same sentences, every answer checked against the offline records; it
returns a :class:`~.loadtest.LoadTestResult`, which :mod:`.tables` prints too.
"""
