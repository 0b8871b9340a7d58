"""The annotation-export fixtures (``annotation_fixtures``) for these tests."""

from annotation_fixtures import brat_dir, doccano_file, labelstudio_file  # noqa: F401  (pytest fixtures)
