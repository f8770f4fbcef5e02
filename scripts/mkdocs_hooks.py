"""MkDocs hooks (mkdocs.yml ``hooks:``): regenerate the reference pages from the code before
every build, so the site never shows settings, commands, event or webhook types the code does
not have (scripts/docs_reference.py; it writes only the pages that changed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

_SCRIPT = Path(__file__).with_name("docs_reference.py")


def on_pre_build(config: Any, **_: Any) -> None:
    spec = importlib.util.spec_from_file_location("docs_reference", _SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_reference"] = module
    spec.loader.exec_module(module)
    module.write(Path(config["docs_dir"]) / "reference")
