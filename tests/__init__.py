"""Switchboard's tests; shared fixtures and helpers live in ``tests.support``."""

import pytest

# The support modules assert too: pytest rewrites them for its detailed failure messages (this
# runs before anything imports them).
pytest.register_assert_rewrite("tests.support")
