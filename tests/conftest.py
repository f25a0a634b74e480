"""Root conftest of the test suite.

The fixtures and hooks live in :mod:`tests.fixtures.plugin`, which pyproject loads with
``-p tests.fixtures.plugin``; this file only makes sure it is loaded when ``addopts`` was
overridden (``pytest -o addopts=...``), so the fixtures never silently go missing.
"""

from __future__ import annotations

import pytest

_PLUGIN = "tests.fixtures.plugin"


def pytest_configure(config: pytest.Config) -> None:
    """Load the harness plugin if the command line did not."""
    if not config.pluginmanager.has_plugin(_PLUGIN):
        config.pluginmanager.import_plugin(_PLUGIN)
