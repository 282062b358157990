"""Shared pytest setup: the real-server fixtures in tests/servers.py for every test module."""

pytest_plugins = ["tests.servers"]
