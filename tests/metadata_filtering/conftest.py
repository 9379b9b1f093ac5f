"""Fixtures for the stage 1 tests: one LineFilter per session (loading nltk and the language
model takes seconds, so every test shares it)."""

from __future__ import annotations

import pytest

from acav.metadata_filtering.config import FilterConfig
from acav.metadata_filtering.rules import LineFilter


@pytest.fixture(scope="session")
def line_filter() -> LineFilter:
    return LineFilter(FilterConfig())


@pytest.fixture(scope="session")
def shared_tools(line_filter: LineFilter):
    return line_filter.tools
