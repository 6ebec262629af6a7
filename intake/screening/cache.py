"""The compiled lexicon and model, kept on disk so that a process start loads them rather than
building them again.

Building the lexicon (parsing the TOML word lists, normalising every phrase, growing the trie)
and loading the model (a 3 MB JSON file turned into lookup tables) each cost about 0.15-0.45 s
depending on the machine; unpickling what they built costs a third of that. Every web, worker
and CLI start pays it, so the second start onwards reads the cache.

A cache file is named by what it was built from: the size and modification time (as Python's
own bytecode cache does) of every data file and screening module, and the Python version. A
changed word list, model or code therefore gives a new name and is built afresh; the old file
is removed. Files are written to a temporary name and renamed, so a reader never sees half of
one, and two processes starting together at worst both build.

The directory must be private to the service (it is under `DATA_DIR`): pickle runs code when
it loads, so a file an attacker could write there is as dangerous as a `.pyc` they could write.
Nothing here raises: any failure to read or write the cache is logged at DEBUG and the object
is built in memory instead.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
_directory: Path | None = None


def use_directory(path: Path | None) -> None:
    """Keep compiled screening data in `path` from now on (None: build in memory, the
    default). Web and worker processes call this through `intake.screening.warm_up`."""
    global _directory
    _directory = path


def fingerprint(name: str, package: Path | None = None) -> str:
    """A short hash of what `name` is built from: every module and data file of the package
    (intake/screening by default), by name, size and modification time, and the Python
    version."""
    package = package or Path(str(resources.files("intake.screening")))
    h = hashlib.sha256(f"{name}|{sys.version}".encode())
    for path in sorted([*package.glob("*.py"), *package.glob("data/*")]):
        st = path.stat()
        h.update(f"|{path.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def load_or_build(name: str, build: Callable[[], T]) -> T:
    """`build()`'s result, from the cache directory when an up-to-date copy is there (written
    there after building when not). `name` names the object ("lexicon", "model")."""
    directory = _directory
    if directory is None:
        return build()
    try:
        path = directory / f"screening-{name}-{fingerprint(name)}.pickle"
    except OSError as exc:  # a package not on a file system (a zip): nothing to key on
        log.debug("screening cache not used: %s", exc)
        return build()
    try:
        with path.open("rb") as f:
            return pickle.load(f)  # our own file, in the service's private directory
    except FileNotFoundError:
        pass
    except Exception as exc:  # a truncated or foreign file: rebuild and overwrite it
        log.debug("screening cache %s unreadable (%s); rebuilding", path.name, exc)
    value = build()
    _store(directory, path, value)
    return value


def _store(directory: Path, path: Path, value: object) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".screening-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        prefix = path.name.rsplit("-", 1)[0] + "-"
        for old in directory.glob(prefix + "*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
    except Exception as exc:  # read-only or full disk: the service runs, only starts slower
        log.debug("screening cache not written to %s: %s", directory, exc)
