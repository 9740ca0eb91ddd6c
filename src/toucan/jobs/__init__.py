"""Background jobs: the Celery app, job records, the runner and the task functions."""
