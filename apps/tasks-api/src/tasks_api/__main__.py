"""``python -m tasks_api``: the ``tasks-api`` command (``serve``, ``migrate``)."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()
