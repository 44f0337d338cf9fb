"""Test harnesses that run real third-party parts (the Better Auth server) for the tests."""
