"""Serving: extraction over HTTP (``spert serve``). ``settings`` holds the typed settings,
``protocol`` the request and error bodies and the checks that name field and limit,
``batcher`` the micro-batcher that shares model calls across concurrent requests, ``routes``
the endpoints, one router per group (the API, health, the web page with ``templates/`` and
``static/``), and ``server`` the FastAPI application around them: startup, body limit, errors.
Uses the inference facade and records; nothing below imports it. The load test of BENCHMARKS.md
is a tool, not part of the server: ``spert bench serve`` (``tools/bench/loadtest.py``)."""
