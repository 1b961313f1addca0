"""Regenerate the outputs pasted in docs/tutorial.md by running its commands.

Usage:
    python docs/tutorial.py           # run every command, paste its output in place
    python docs/tutorial.py --check   # run them, and fail if any output differs or fails

A command is marked in the tutorial by an HTML comment, and its output is the fenced block
right after it::

    <!-- run: sim run scenarios/quickstart.yaml -->
    ```console
    $ sim run scenarios/quickstart.yaml
    ...
    ```

Commands run from the repository root with a fixed terminal width; lines that report
elapsed time are left out, so the same commit always gives the same page.

What the prose says about a scenario's structure is written from the file too, so the
words cannot drift from it: a fact is marked inline, and its text rewritten from the
scenario (``FACTS`` lists what can be said)::

    <!-- fact: scenarios/quickstart.yaml nurture emails -->three emails<!-- /fact -->
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial.md"
WIDTH = "100"
# a marker, then the fenced block that holds the previous output (if any)
BLOCK = re.compile(r"<!-- run: (?P<cmd>.+?) -->\n(?:```console\n.*?\n```\n)?", re.DOTALL)
TIMING = re.compile(r"^\s*\d+ replications in [\d.]+ s\s*$", re.MULTILINE)


FACT = re.compile(
    r"<!-- fact: (?P<file>\S+) (?P<step>\S+) (?P<what>\S+) -->(?P<text>.*?)<!-- /fact -->"
)
_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _count(n: int, thing: str) -> str:
    return f"{_NUMBERS[n] if n < len(_NUMBERS) else n} {thing}{'s' * (n != 1)}"


FACTS = {
    # an email sequence: how many emails, and on which days after the opt-in
    "emails": lambda step: _count(len(step.days), "email"),
    "email_days": lambda step: ", ".join(str(d) for d in step.days[:-1]) + f" and {step.days[-1]}",
    # a selling step: how it reaches the leads, its day after the trigger, its price
    "via": lambda step: "on a page" if step.via == "page" else "by email",
    "delay": lambda step: f"day {step.delay_days}",
    "price": lambda step: f"${step.price:g}",
}


def fact(file: str, step_id: str, what: str) -> str:
    """What the tutorial says about a step of a scenario, written from the file."""
    import sim  # here: regenerating the outputs does not need the library loaded

    return str(FACTS[what](sim.load_scenario(ROOT / file).step(step_id)))


def write_facts(text: str) -> str:
    """The tutorial with every marked fact rewritten from its scenario."""

    def one(match: re.Match[str]) -> str:
        said = fact(match["file"], match["step"], match["what"])
        return f"<!-- fact: {match['file']} {match['step']} {match['what']} -->{said}<!-- /fact -->"

    return FACT.sub(one, text)


def run(command: str) -> str:
    """Run one tutorial command; its stdout, without the lines that report timing."""
    args = shlex.split(command)
    if args[0] != "sim":
        raise ValueError(f"tutorial commands start with 'sim': {command}")
    env = {**os.environ, "COLUMNS": WIDTH, "NO_COLOR": "1", "TERM": "dumb"}
    proc = subprocess.run(
        [sys.executable, "-m", "cli", *args[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"'{command}' exited {proc.returncode}:\n{proc.stderr}")
    lines = [line.rstrip() for line in TIMING.sub("", proc.stdout).splitlines()]
    return "\n".join(lines).strip("\n")


def regenerate(text: str) -> str:
    """The tutorial with every command's block replaced by its fresh output."""

    def block(match: re.Match[str]) -> str:
        command = match["cmd"].strip()
        print(f"$ {command}", file=sys.stderr)
        return f"<!-- run: {command} -->\n```console\n$ {command}\n{run(command)}\n```\n"

    return BLOCK.sub(block, write_facts(text))


def commands(text: str) -> list[str]:
    """Every command the tutorial runs, in order."""
    return [m["cmd"].strip() for m in BLOCK.finditer(text)]


def main() -> int:
    """Regenerate in place, or with --check compare and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if an output is stale")
    args = parser.parse_args()
    text = TUTORIAL.read_text(encoding="utf-8")
    fresh = regenerate(text)
    if args.check:
        if fresh != text:
            print("docs/tutorial.md is stale: run python docs/tutorial.py", file=sys.stderr)
            return 1
        print(f"docs/tutorial.md is current ({len(commands(text))} commands)", file=sys.stderr)
        return 0
    TUTORIAL.write_text(fresh, encoding="utf-8")
    print(f"wrote {TUTORIAL.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
