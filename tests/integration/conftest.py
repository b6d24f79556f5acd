"""Integration tests: real processes (the Redis fixtures live in tests/conftest.py)."""
