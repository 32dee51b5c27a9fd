"""The report's browser tests need Debian's headless Chromium."""

from __future__ import annotations

import os

import pytest

from .browser import INSTALL_HINT, find_chromium


@pytest.fixture(scope="session")
def chromium() -> str:
    """Chromium's path. Where there is none the test skips, saying how to install it; under
    SWEEPS_REQUIRE_BROWSER=1 (CI) it fails."""
    path = find_chromium()
    if path is None:
        message = f"no Chromium on PATH: {INSTALL_HINT}"
        if os.environ.get("SWEEPS_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path
