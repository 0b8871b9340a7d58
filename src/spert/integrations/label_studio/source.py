"""Where a project's annotations come from: Label Studio through its SDK (a fake in the tests).

:class:`SdkSource` uses the official ``label-studio-sdk`` (the ``spert[label-studio]`` extra)
with the URL and token of the server's settings, never of a request.
"""

from __future__ import annotations

from typing import Protocol

from spert.errors import SpertError


class UnknownProject(SpertError):
    pass


class ExportSource(Protocol):
    """Where a project's annotations come from (Label Studio through its SDK; a fake in tests)."""

    def check_project(self, project_id: int) -> None:
        """Raise :class:`UnknownProject` if Label Studio has no such project (for this token)."""

    def export(self, project_id: int) -> bytes:
        """The project's annotated tasks in Label Studio's JSON export format."""


SDK_MISSING = "training from Label Studio needs label-studio-sdk: pip install 'spert[label-studio]'"


def check_sdk() -> None:
    """Refuse a training set-up without ``label-studio-sdk`` (one line), before the server starts."""
    import importlib.util

    if importlib.util.find_spec("label_studio_sdk") is None:
        raise SpertError(SDK_MISSING)


class SdkSource:
    """Label Studio through ``label-studio-sdk`` (the ``spert[label-studio]`` extra)."""

    def __init__(self, url: str, api_key: str) -> None:
        try:
            from label_studio_sdk import LabelStudio
        except ImportError:
            raise SpertError(SDK_MISSING) from None
        self.client = LabelStudio(base_url=url, api_key=api_key)

    def check_project(self, project_id: int) -> None:
        from label_studio_sdk.core.api_error import ApiError

        try:
            self.client.projects.get(project_id)
        except ApiError as e:
            if e.status_code in (403, 404):
                raise UnknownProject(f"Label Studio has no project {project_id} for this token") from None
            raise

    def export(self, project_id: int) -> bytes:
        return b"".join(self.client.projects.exports.download_sync(project_id, export_type="JSON"))
