"""The operational HTTP API (issue 13): a thin FastAPI layer over `operational_api.services`."""

from operational_api.api.app import create_app

__all__ = ["create_app"]
