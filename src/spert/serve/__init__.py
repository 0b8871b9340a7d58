"""Serving: extraction over HTTP (``spert serve``). Uses the inference facade and records;
nothing below imports it."""
