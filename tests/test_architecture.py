"""The shape of the code, enforced (docs/architecture.md):

- `intake/` is the channel-agnostic core: it never imports `channels/`, lazily or not, except in
  the composition roots `intake/cli.py` and `intake/tasks.py` (and `worker.py`, outside it);
- a channel folder imports only itself, what all Twilio channels share (`channels/twilio.py`)
  and the core: one channel never reaches into another;
- all SQL lives in `intake/store/`: nothing else imports SQLAlchemy or Alembic.

Each rule is a walk over the syntax trees of the real files; the same walk is also run on a small
tree with one violation of each kind, so a rule that silently stopped finding anything would fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPOSITION_ROOTS = {"intake/cli.py", "intake/tasks.py"}
SHARED_CHANNEL_MODULES = {"channels.twilio"}
DATABASE_PACKAGES = ("sqlalchemy", "alembic")


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in a file, at any depth (a lazy import counts)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # `from channels import sms` names channels.sms
                yield node.lineno, f"{node.module}.{alias.name}"


def python_files(root: Path, folder: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((root / folder).rglob("*.py")):
        yield path.relative_to(root).as_posix(), path


def core_imports_of_channels(root: Path) -> list[str]:
    found = []
    for name, path in python_files(root, "intake"):
        if name in COMPOSITION_ROOTS:
            continue
        for line, module in imports(path):
            if module == "channels" or module.startswith("channels."):
                found.append(f"{name}:{line} imports {module}")
    return found


def channels_reaching_into_others(root: Path) -> list[str]:
    found = []
    for name, path in python_files(root, "channels"):
        parts = name.split("/")
        own = f"channels.{parts[1]}" if len(parts) > 2 else None
        for line, module in imports(path):
            if not module.startswith("channels."):
                continue
            folder = ".".join(module.split(".")[:2])
            if folder in SHARED_CHANNEL_MODULES or folder == own or own is None:
                continue
            found.append(f"{name}:{line} imports {module}")
    return found


def sql_outside_the_store(root: Path) -> list[str]:
    found = []
    for folder in ("intake", "channels"):
        for name, path in python_files(root, folder):
            if name.startswith("intake/store/"):
                continue
            for line, module in imports(path):
                if module.split(".")[0] in DATABASE_PACKAGES:
                    found.append(f"{name}:{line} imports {module}")
    for line, module in imports(root / "worker.py"):
        if module.split(".")[0] in DATABASE_PACKAGES:
            found.append(f"worker.py:{line} imports {module}")
    return found


RULES = [core_imports_of_channels, channels_reaching_into_others, sql_outside_the_store]


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_the_tree_keeps_the_rule(rule) -> None:  # type: ignore[no-untyped-def]
    assert rule(ROOT) == []


@pytest.fixture
def broken_tree(tmp_path: Path) -> Path:
    """A tree with one violation of each rule (and the allowed imports beside them)."""
    files = {
        "worker.py": "import channels\n",
        "intake/pipeline.py": "def later():\n    from channels.sms import channel\n",
        "intake/cli.py": "import channels\n",  # a composition root: allowed
        "intake/web/app.py": "from channels import voice\n",
        "intake/merge.py": "import sqlalchemy as sa\n",
        "intake/store/links.py": "import sqlalchemy as sa\n",  # the store: allowed
        "channels/email/receive.py": "from channels.sms import optout\n",
        # the shared Twilio module and its own folder: allowed
        "channels/sms/channel.py": "from channels.twilio import failure\nimport channels.sms.a\n",
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_each_rule_finds_a_new_violation(broken_tree: Path) -> None:
    assert core_imports_of_channels(broken_tree) == [
        "intake/pipeline.py:2 imports channels.sms",
        "intake/pipeline.py:2 imports channels.sms.channel",
        "intake/web/app.py:1 imports channels",
        "intake/web/app.py:1 imports channels.voice",
    ]
    assert channels_reaching_into_others(broken_tree) == [
        "channels/email/receive.py:1 imports channels.sms",
        "channels/email/receive.py:1 imports channels.sms.optout",
    ]
    assert sql_outside_the_store(broken_tree) == ["intake/merge.py:1 imports sqlalchemy"]
