"""Errors the platform reports to people as one clear line (never a traceback)."""


class PlatformError(Exception):
    """An error with a message fit for the person at the keyboard: what failed and why."""
