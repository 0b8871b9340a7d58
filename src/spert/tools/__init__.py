"""Tools around the package: the benchmark (``spert bench``: timing, memory, plots and
report) and conversion of the authors' checkpoints into model directories. These sit
above everything else and may use any subpackage; nothing imports them but the CLI."""
