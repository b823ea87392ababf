"""The HTTP service: `create_app(settings, library=None)` builds the FastAPI app."""

from docqa.api.factory import create_app

__all__ = ["create_app"]
