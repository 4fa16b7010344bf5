"""Fixtures for the voice client tests: the realtime emulator of the session's running product
(``tests.support.product``; what ``switchboard call --upstream-direct`` talks to, with its key
``EMULATOR_KEY``); the caller's voice comes from ``tests.support.voice``."""

from __future__ import annotations

import pytest

from tests.support.product import Product


@pytest.fixture(scope="session")
def emulator_url(product: Product) -> str:
    """``ws://127.0.0.1:PORT`` of a running ``switchboard-emulator``."""
    return product.emulator
