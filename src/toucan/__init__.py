"""Toucan stack: a self-hostable data-storytelling platform."""

__version__ = "0.1.0"
API_VERSION = "1"
