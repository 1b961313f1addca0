"""Commented starter scenarios that ``sim new`` writes, one per kind of funnel."""

from __future__ import annotations

from importlib.resources import files

TEMPLATES = ("tripwire", "webinar", "saas", "b2b", "eshop")


def available() -> list[str]:
    """The templates shipped with this installation, in the order of :data:`TEMPLATES`."""
    here = files(__name__)
    return [name for name in TEMPLATES if here.joinpath(f"{name}.yaml").is_file()]


def template_text(name: str) -> str:
    """The YAML text of one template.

    Raises:
        ValueError: no template of that name.
    """
    if name not in available():
        raise ValueError(f"no template '{name}'; choose one of {', '.join(available())}")
    return files(__name__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
