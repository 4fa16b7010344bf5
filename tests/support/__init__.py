"""Test support shared by several test packages: fixtures registered from ``tests/conftest.py``
(``pytest_plugins``) and helpers imported from here, never from another test module."""
