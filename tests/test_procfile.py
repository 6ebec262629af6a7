"""`intake run` supervises exactly what the Procfile declares, so the two cannot drift apart."""

from __future__ import annotations

from pathlib import Path

from intake.cli import PROCFILE_PROCESSES, build_parser


def test_run_supervises_the_procfile_processes() -> None:
    procfile = Path(__file__).resolve().parent.parent / "Procfile"
    declared = {}
    for line in procfile.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            declared[name.strip()] = command.split()
    assert declared == {name: ["intake", *argv] for name, argv in PROCFILE_PROCESSES.items()}
    parser = build_parser()
    for argv in PROCFILE_PROCESSES.values():
        parser.parse_args(argv)  # every process is a real subcommand
