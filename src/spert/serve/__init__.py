"""Serving: extraction over HTTP (``spert serve``). ``settings`` holds the typed settings,
``protocol`` the request and error bodies and the checks that name field and limit,
``batcher`` the micro-batcher that shares model calls across concurrent requests, ``routes``
the endpoints, one router per group (the API, health, the web page with ``templates/`` and
``static/``), and ``server`` the FastAPI application around them: startup, body limit, errors.
``loadtest`` the load generator of BENCHMARKS.md. Uses the inference facade and records;
nothing below imports it."""
