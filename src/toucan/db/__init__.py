"""Metadata database: engine, sessions, models and migrations."""

# Every model module, so Base.metadata knows all tables (migrations, tests).
from toucan.db import domain_models, etl_models, models, release_models, report_models  # noqa: F401
