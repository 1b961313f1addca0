"""Write output files so a reader never sees a half-written file or a mix of two runs.

Two ways:

- ``write_files`` writes each file in full beside its target, then renames it into place:
  each file is either the old one or the complete new one.
- ``staged_folder`` writes a whole output folder as one set: every file, and a
  ``manifest.json`` that lists each with its SHA-256 and says which run wrote them, goes
  into a staging folder beside the target (``.<name>.partial-<random>``), which then takes
  the target's place in one step (an atomic exchange of the two folders where the system
  has one). A kill leaves the old complete set or the new complete set, never a mix.

A staging folder is locked (``flock``) by the process that writes it, as long as it
lives. Staging folders that no live process holds, left by killed runs, are removed by
the next write to the same place.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import pandas as pd

# a string, so that pandas (slow to import) is imported only to write a table
Content: TypeAlias = "str | pd.DataFrame | Callable[[Path], None]"

MANIFEST = "manifest.json"
_PARTIAL = ".partial-"  # the mark of a staging folder's name


class OutputFolderError(ValueError):
    """An output folder cannot be written (or a written one is not one set); one line says why."""


def write_files(out_dir: str | Path, files: Mapping[str, Content]) -> list[Path]:
    """Write every file in full beside its target, then rename each into place.

    A value is text, a table (written as CSV), or a function that writes the file at the
    path it is given. Files are renamed in the order given (put a manifest last).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clean_stale(out, _PARTIAL)
    with _locked_staging(out, _PARTIAL) as staging:
        for name, content in files.items():
            _write(staging / name, content)
        written = []
        for name in files:
            os.replace(staging / name, out / name)
            written.append(out / name)
        return written


class Staging:
    """An output folder being written: files go to ``path``; ``write`` keeps the manifest."""

    def __init__(self, path: Path, info: Mapping[str, Any]) -> None:
        """Args: the staging folder, and what the manifest says of the run."""
        self.path, self.info = path, dict(info)
        self.names: list[str] = []

    def write(self, files: Mapping[str, Content]) -> None:
        """Write files into the set, and the manifest that lists every file so far."""
        for name, content in files.items():
            _write(self.path / name, content)
            if name not in self.names:
                self.names.append(name)
        _write(self.path / MANIFEST, manifest_text(self.path, self.names, self.info))

    def link(self, folder: Path, names: list[str]) -> None:
        """Take files of an existing set as they are (hard links, or copies)."""
        for name in names:
            try:
                os.link(folder / name, self.path / name, follow_symlinks=False)
            except OSError:
                shutil.copyfile(folder / name, self.path / name, follow_symlinks=False)
            self.names.append(name)


@contextmanager
def staged_folder(out_dir: str | Path, info: Mapping[str, Any]) -> Iterator[Staging]:
    """Stage an output folder; on leaving the block, publish it whole in place of ``out_dir``.

    If the block raises, nothing is published and the staging folder is removed.

    Raises:
        OutputFolderError: ``out_dir`` cannot be written (``check_out_dir``).
    """
    target = check_out_dir(out_dir, replace=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}{_PARTIAL}"
    clean_stale(target.parent, prefix)
    with _locked_staging(target.parent, prefix) as staging:
        stage = Staging(staging, info)
        yield stage
        if MANIFEST not in os.listdir(staging):
            stage.write({})
        _publish(staging, target)


def manifest_text(folder: Path, names: list[str], info: Mapping[str, Any]) -> str:
    """The manifest of files in ``folder``: see ``manifest_json``."""
    return manifest_json(info, {name: sha256(folder / name) for name in names})


def manifest_json(info: Mapping[str, Any], hashes: Mapping[str, str]) -> str:
    """A manifest: what ran (``info``), the program's version, each file's SHA-256.

    Nothing in it depends on the time or the place, so a run gives the same bytes again.
    """
    data = {**info, "funnelsim": funnelsim_version(), "files": dict(sorted(hashes.items()))}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def funnelsim_version() -> str:
    """The installed version, or "unknown" in a source tree that was not installed."""
    try:
        return version("funnelsim")
    except PackageNotFoundError:
        return "unknown"


def sha256(file: Path) -> str:
    """The file's SHA-256, as hex."""
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_out_dir(out_dir: str | Path, *, replace: bool = False) -> Path:
    """Refuse, before any work, an output folder that cannot be written; its real path.

    The path must be a folder or not exist yet; the nearest existing folder above it must
    be writable. With ``replace`` (the folder is published as one set in place of the
    old), an existing folder must be empty or hold only a set: a ``manifest.json`` and
    the files it lists (or staging left by a killed run), so that nothing else is lost.

    Raises:
        OutputFolderError: what is wrong, and what to do.
    """
    given = Path(out_dir)
    target = given.resolve()
    if target.exists() and not target.is_dir():
        raise OutputFolderError(f"--out {given} is a file, not a folder: choose a folder")
    above = target if target.is_dir() else _existing_ancestor(target)
    if not above.is_dir():
        raise OutputFolderError(f"cannot create the folder {given}: {above} is a file")
    writable = target.parent if replace and target.is_dir() else above
    if not os.access(writable, os.W_OK | os.X_OK):
        raise OutputFolderError(f"cannot write {given}: {writable} is not writable")
    if replace and target.is_dir():
        foreign = _foreign_entries(target)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
            raise OutputFolderError(
                f"--out {given} holds files that are not one output set ({shown}); the "
                "folder is replaced as a whole, so choose a new or empty folder"
            )
    return target


def _existing_ancestor(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path(path.anchor)


def _foreign_entries(folder: Path) -> list[str]:
    """Entries of an existing folder that are not its set (nor stale staging)."""
    entries = sorted(os.listdir(folder))
    listed = set(read_manifest(folder).get("files", {})) if MANIFEST in entries else set()
    return [
        name
        for name in entries
        if name != MANIFEST and name not in listed and not name.startswith(_PARTIAL)
    ]


def read_manifest(folder: Path) -> dict[str, Any]:
    """A folder's manifest as data; {} if it cannot be read as one."""
    file = folder / MANIFEST
    try:
        if file.is_symlink():
            return {}
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return {}
    return data


def clean_stale(folder: Path, prefix: str) -> None:
    """Remove the staging folders in ``folder`` named ``prefix…`` that no live process locks."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix)]
    except OSError:
        return
    for name in names:
        path = folder / name
        if path.is_symlink() or not path.is_dir():
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a live writer holds it
            os.close(fd)
            continue
        try:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)


@contextmanager
def _locked_staging(parent: Path, prefix: str) -> Iterator[Path]:
    """A new staging folder in ``parent``, locked by this process until the block ends."""
    while True:
        staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(staging).st_ino == os.fstat(fd).st_ino:
                break  # not removed by a cleaner that locked it first
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        os.close(fd)


def _publish(staging: Path, target: Path) -> None:
    """Put the staged folder in the target's place in one step; the old set goes."""
    try:
        os.rename(staging, target)  # no target yet, or an empty one
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    if not _exchange(staging, target):
        # no atomic exchange here: move the old set aside (as stale staging), then rename
        aside = Path(tempfile.mkdtemp(prefix=f".{target.name}{_PARTIAL}", dir=target.parent))
        os.rename(target, aside / "old")
        os.rename(staging, target)
        shutil.rmtree(aside, ignore_errors=True)
        return
    shutil.rmtree(staging, ignore_errors=True)  # it holds the old set now


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_cwd, exchange = -100, 2  # AT_FDCWD, RENAME_EXCHANGE
    if renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _write(target: Path, content: Content) -> None:
    import pandas as pd  # here: commands that write no table do not need it

    if isinstance(content, str):
        target.write_text(content, encoding="utf-8")
    elif isinstance(content, pd.DataFrame):
        content.to_csv(target, index=False, float_format="%.10g")
    else:
        content(target)
