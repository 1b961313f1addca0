"""Write a set of files so each is either the old one or the complete new one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

Content = str | pd.DataFrame | Callable[[Path], None]


def write_files(out_dir: str | Path, files: Mapping[str, Content]) -> list[Path]:
    """Write every file in full beside its target, then rename each into place.

    A value is text, a table (written as CSV), or a function that writes the file at the
    path it is given.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    try:
        for name, content in files.items():
            target = staging / name
            if isinstance(content, str):
                target.write_text(content, encoding="utf-8")
            elif isinstance(content, pd.DataFrame):
                content.to_csv(target, index=False, float_format="%.10g")
            else:
                content(target)
        written = []
        for name in files:
            os.replace(staging / name, out / name)
            written.append(out / name)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
