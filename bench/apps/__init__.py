"""ASGI apps the HTTP benchmark serves with uvicorn (``bench/http_bench.py``)."""
