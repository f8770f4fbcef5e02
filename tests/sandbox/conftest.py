"""The sandbox fixtures (`sandbox`, `info`, `http`) live in tests/conftest.py."""
