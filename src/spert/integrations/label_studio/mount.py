"""``spert serve --label-studio``'s application: the server's, with the Label Studio backend on it.

:func:`create_app` builds :func:`spert.serve.server.create_app`'s application and adds the
backend (:class:`~.backend.LabelStudioBackend`) as its :class:`~spert.serve.server.Extension`:
the routers of :mod:`.endpoints`, the serving version to load at startup, the training rounds
to stop at shutdown. The backend is ``app.state.label_studio``. uvicorn's workers build the
application from :data:`APP_FACTORY`, as they build the plain server's from
:data:`spert.serve.server.APP_FACTORY`.
"""

from __future__ import annotations

from fastapi import FastAPI

from spert.errors import ConfigError
from spert.infer.extractor import SpERT
from spert.integrations.label_studio.backend import LabelStudioBackend
from spert.integrations.label_studio.endpoints import ml_backend_router, training_page_router
from spert.integrations.label_studio.source import check_sdk
from spert.serve import server
from spert.serve.routes import ServeState
from spert.serve.settings import ServeSettings

APP_FACTORY = "spert.integrations.label_studio.mount:app_from_environment"


def check_ready(settings: ServeSettings) -> None:
    """Refuse, before the server starts, a Label Studio set-up that cannot work: several workers, or
    training asked for (Label Studio's URL or a training config given) without ``label-studio-sdk``."""
    ls = settings.label_studio
    if ls is None:
        return
    if settings.workers > 1:
        raise ConfigError(_ONE_WORKER)
    if ls.url or ls.train_config is not None:
        check_sdk()


_ONE_WORKER = ("the Label Studio backend trains and switches models in its one process: "
               "use --workers 1 with --label-studio")


def create_app(settings: ServeSettings, extractor: SpERT | None = None) -> FastAPI:
    """The server's application with the Label Studio backend when ``settings.label_studio`` asks for it."""
    if settings.label_studio is None:
        return server.create_app(settings, extractor)
    if settings.workers > 1:
        raise ConfigError(_ONE_WORKER)
    backend: LabelStudioBackend | None = None

    def extend(state: ServeState, describe: server.Describe) -> server.Extension:
        nonlocal backend
        backend = LabelStudioBackend(state, settings.label_studio, describe)  # type: ignore[arg-type]
        return server.Extension(routers=[ml_backend_router(backend), training_page_router(backend)],
                                model_dir=backend.model_dir, close=backend.close)

    app = server.create_app(settings, extractor, extend)
    app.state.label_studio = backend
    return app


def app_from_environment() -> FastAPI:
    """The application for uvicorn's workers (``spert serve`` puts the settings in the environment)."""
    return create_app(ServeSettings.from_environment())
