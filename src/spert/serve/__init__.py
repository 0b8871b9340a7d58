"""Serving: extraction over HTTP (``spert serve``). ``settings`` holds the typed settings,
``protocol`` the request and error bodies and the checks that name field and limit,
``batcher`` the micro-batcher that shares model calls across concurrent requests, ``app``
the FastAPI application with its web page (``templates/``, ``static/``), and ``loadtest``
the load generator of BENCHMARKS.md. Uses the inference facade and records; nothing below
imports it."""
