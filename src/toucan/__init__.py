"""Toucan stack: a self-hostable data-storytelling platform."""

from importlib.metadata import version as _installed_version

# The one version source is the repository's VERSION file, read at install time (`make install`
# reinstalls when it changes); the frontend build reads the same file.
__version__ = _installed_version("toucan")
API_VERSION = "1"
