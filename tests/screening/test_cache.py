"""The compiled lexicon and model kept on disk between starts (`intake.screening.cache`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from intake.screening import cache

ROOT = Path(__file__).resolve().parents[2]

# Screens every labelled message of two sets in a fresh interpreter and prints the results.
SCREEN_ALL = """
import json, sys
from pathlib import Path
from intake.screening import screen, warm_up
warm_up(Path(sys.argv[1]) if sys.argv[1] != "-" else None)
out = []
for name in sys.argv[2:]:
    for line in open(name, encoding="utf-8"):
        r = screen(json.loads(line)["text"])
        out.append([r.to_dict(), list(r.cues)])
print(json.dumps(out))
"""
SETS = [str(ROOT / "tests/screening/data/batch14.jsonl"),
        str(ROOT / "tests/screening/data/train_h.jsonl")]


def _screen_all(cache_dir: str) -> list[object]:
    done = subprocess.run([sys.executable, "-c", SCREEN_ALL, cache_dir, *SETS], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.slow
def test_a_start_from_the_cache_screens_exactly_as_a_fresh_build(tmp_path: Path) -> None:
    fresh = _screen_all("-")
    first = _screen_all(str(tmp_path))  # builds, then writes the cache
    names = sorted(p.name.rsplit("-", 1)[0] for p in tmp_path.glob("*.pickle"))
    assert names == ["screening-lexicon", "screening-model"]
    second = _screen_all(str(tmp_path))  # reads it
    assert len(fresh) == 500
    assert first == fresh
    assert second == fresh


def test_a_cached_object_is_read_back_without_building(tmp_path: Path) -> None:
    cache.use_directory(tmp_path)
    try:
        assert cache.load_or_build("probe", lambda: {"built": 1}) == {"built": 1}

        def must_not_build() -> dict[str, int]:
            raise AssertionError("built again although the cache holds it")

        assert cache.load_or_build("probe", must_not_build) == {"built": 1}
    finally:
        cache.use_directory(None)


def test_a_damaged_cache_file_is_rebuilt_and_replaced(tmp_path: Path) -> None:
    cache.use_directory(tmp_path)
    try:
        cache.load_or_build("probe", lambda: [1, 2, 3])
        (path,) = tmp_path.glob("screening-probe-*.pickle")
        path.write_bytes(b"\x80\x05not a pickle")
        assert cache.load_or_build("probe", lambda: [4]) == [4]
        assert cache.load_or_build("probe", lambda: [5]) == [4]
    finally:
        cache.use_directory(None)


def test_an_unwritable_cache_directory_only_costs_time(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cache.use_directory(blocker / "cache")
    try:
        assert cache.load_or_build("probe", lambda: "built") == "built"
        assert cache.load_or_build("probe", lambda: "built again") == "built again"
    finally:
        cache.use_directory(None)


def test_a_changed_word_list_or_module_gives_a_new_cache_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    words = tmp_path / "data" / "lexicon.cy.toml"
    words.write_text("[[section]]\n")
    (tmp_path / "engine.py").write_text("x = 1\n")
    before = cache.fingerprint("lexicon", tmp_path)
    assert cache.fingerprint("lexicon", tmp_path) == before
    assert cache.fingerprint("model", tmp_path) != before
    words.write_text("[[section]]\nid = 'a service addition'\n")
    after_words = cache.fingerprint("lexicon", tmp_path)
    assert after_words != before
    st = (tmp_path / "engine.py").stat()
    os.utime(tmp_path / "engine.py", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert cache.fingerprint("lexicon", tmp_path) != after_words


def test_old_cache_files_are_removed_when_a_new_one_is_written(tmp_path: Path) -> None:
    stale = tmp_path / "screening-probe-0123456789abcdef0123.pickle"
    stale.write_bytes(b"old")
    cache.use_directory(tmp_path)
    try:
        cache.load_or_build("probe", lambda: "new")
    finally:
        cache.use_directory(None)
    assert not stale.exists()
    assert len(list(tmp_path.glob("screening-probe-*.pickle"))) == 1
