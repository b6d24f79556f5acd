"""The README's settings table is generated from the settings' docstrings and must be current."""

from __future__ import annotations

from relaytts.settings import settings_table_markdown
from tests.conftest import REPO_ROOT


def test_readme_settings_table_is_current():
    readme = (REPO_ROOT / "README.md").read_text()
    start = readme.index("<!-- settings-table:start -->") + len("<!-- settings-table:start -->")
    end = readme.index("<!-- settings-table:end -->")
    assert readme[start:end].strip() == settings_table_markdown().strip(), (
        "README settings table is stale: regenerate it from relaytts.settings.settings_table_markdown()")
