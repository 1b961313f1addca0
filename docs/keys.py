"""Rewrite the key tables of docs/model.md §8 from sim/keys.yaml (``--check``: only compare)."""

from __future__ import annotations

import sys
from pathlib import Path

from sim.keys import END, START, keys_markdown

MODEL = Path(__file__).with_name("model.md")


def main(check: bool) -> int:
    """Rewrite (or with ``check`` compare) the tables; 1 if they were stale."""
    text = MODEL.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    tail = rest.partition(END)[2]
    new = f"{head}{START}\n\n{keys_markdown()}\n\n{END}{tail}"
    if new == text:
        print(f"{MODEL}: current")
        return 0
    if not check:
        MODEL.write_text(new, encoding="utf-8")
    print(f"{MODEL}: {'stale' if check else 'rewritten'}")
    return 1 if check else 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv))
