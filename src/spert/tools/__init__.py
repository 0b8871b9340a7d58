"""Tools around the package: the benchmarks (``spert bench``, :mod:`.bench`: inference and
training throughput against the naive reference and across runtimes, time and memory against
sentence length, and ``spert bench serve``, a load test of ``spert serve``), the ONNX export
(``spert export onnx``, :mod:`.onnx_export`) and the conversion of the authors' checkpoints
into model directories (``spert convert``, :mod:`.authors_checkpoint`). These sit above
everything else and may use any subpackage; nothing imports them but the CLI."""
