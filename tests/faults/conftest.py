"""Fault injection: damaged files, processes killed at chosen moments, full disks."""

from annotation_fixtures import brat_dir  # noqa: F401  (a pytest fixture)
