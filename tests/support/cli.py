"""The one way tests run the command line: in-process through click's CliRunner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from click.testing import CliRunner, Result

from hiljade.cli.main import main


def invoke(
    args: Sequence[str],
    *,
    config: Path | None = None,
    env: Mapping[str, str | None] | None = None,
    input: str | bytes | None = None,  # noqa: A002 - click's name
    catch_exceptions: bool = False,
) -> Result:
    """Run ``hiljade [--config CONFIG] ARGS``; an exception propagates unless ``catch_exceptions``."""
    prefix = ["--config", str(config)] if config is not None else []
    return CliRunner(env=env).invoke(main, [*prefix, *args], input=input, catch_exceptions=catch_exceptions)


def cli(config: Path, *args: str) -> tuple[int, str, str]:
    """``hiljade --config CONFIG ARGS``: its exit code, stdout and stderr."""
    result = invoke(args, config=config)
    return result.exit_code, result.stdout, result.stderr
