"""One way for tests to run the command line: ``run_cli(capsys, *argv) -> (exit status, stdout, stderr)``."""

from __future__ import annotations

from fairvision.cli import main


def run_cli(capsys, *argv):
    """``fairvision ARGV``'s exit status and output, whether an error comes from argparse (SystemExit) or the
    command (its one-line error, exit 2)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    cap = capsys.readouterr()
    return code, cap.out, cap.err
