"""Alembic migrations for the Tasks API (run by ``tasks_api.migrate``)."""
