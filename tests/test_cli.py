"""The command line as a whole: every command has help and is in the README; export keeps authors out."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from hiljade.cli import main
from hiljade.cli.main import COMMANDS
from hiljade.config import load_config
from hiljade.models.posts import save_post
from hiljade.records import AuthorRecord, PostRecord
from hiljade.services.store import author_policy, open_store
from tests.support.cli import invoke
from tests.support.config import write_config
from tests.support.paths import REPO


def all_commands(group: click.Group, prefix: str = "hiljade") -> list[tuple[str, click.Command]]:
    found = []
    ctx = click.Context(group)
    for name in sorted(group.list_commands(ctx)):
        command = group.get_command(ctx, name)
        assert command is not None, name
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found.extend(all_commands(command, path))
        else:
            found.append((path, command))
    return found


@pytest.mark.parametrize("path", [p for p, _ in all_commands(main)])
def test_every_command_has_help_and_is_in_the_readme(path: str) -> None:
    args = path.split()[1:] + ["--help"]
    result = invoke(args)
    assert result.exit_code == 0
    assert "Usage:" in result.stdout and len(result.stdout.splitlines()) > 3
    assert f"`{path}" in (REPO / "README.md").read_text("utf-8"), f"{path} is not documented in the README"


def test_the_root_help_lists_every_command_without_importing_it() -> None:
    code = (
        "import sys\nfrom hiljade.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('hiljade', 'sqlalchemy'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "['hiljade', 'hiljade.cli', 'hiljade.cli.main']"
    for name in COMMANDS:
        assert f"  {name} " in result.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_root_table_short_help_is_the_commands_own(name: str) -> None:
    command = main.get_command(click.Context(main), name)
    assert command is not None and command.name == name
    listed = click.Command(name, help=COMMANDS[name][1])
    assert listed.get_short_help_str(200) == command.get_short_help_str(200)


@pytest.fixture
def config_with_posts(tmp_path: Path, sqlite_url: str) -> Path:
    config = write_config(tmp_path, sqlite_url, [], privacy__store_handles=True)
    invoke(["init"], config=config)
    cfg = load_config(config)
    store = open_store(cfg)
    texts = [
        '=HYPERLINK("http://x","y")',
        "+381 kamera",
        "@admin pogledaj",
        "Kamera na uglu Dečanske i Makedonske",
    ]
    with store.transaction() as conn:
        for n, text in enumerate(texts):
            save_post(
                conn,
                PostRecord(
                    platform="mastodon",
                    server="https://a.example",
                    native_id=str(n),
                    uri=f"https://a.example/s/{n}",
                    created_at=dt.datetime(2024, 5, 1, n, tzinfo=dt.UTC),
                    text=text,
                    author=AuthorRecord("mastodon", "https://a.example/users/mila", handle="mila@a.example"),
                    fetched_from="test",
                ),
                author_policy(cfg),
                dt.datetime.now(dt.UTC),
            )
    return config


def test_csv_export_neutralises_formulas_and_names_no_author(config_with_posts: Path) -> None:
    result = invoke(["export", "posts", "--format", "csv"], config=config_with_posts)
    assert result.exit_code == 0
    assert "mila" not in result.stdout
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["text"] for r in rows[:3]] == [
        '\'=HYPERLINK("http://x","y")',
        "'+381 kamera",
        "'@admin pogledaj",
    ]
    assert rows[3]["text"] == "Kamera na uglu Dečanske i Makedonske"
    assert set(rows[0]) >= {"platform", "server", "native_id", "uri", "url", "created_at", "text", "language"}
    assert "export: 4 posts as csv" in result.stderr


def test_jsonl_export_with_authors_only_when_asked(config_with_posts: Path, tmp_path: Path) -> None:
    out = tmp_path / "posts.jsonl"
    args = ["export", "posts", "--format", "jsonl", "-o", str(out)]
    invoke(args, config=config_with_posts)
    plain = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert "author_pseudonym" not in plain[0] and "mila" not in out.read_text("utf-8")
    invoke([*args, "--include-authors"], config=config_with_posts)
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(rows[0]["author_pseudonym"]) == 64 and rows[0]["author_handle"] == "mila@a.example"


def test_excel_flag_writes_a_bom(config_with_posts: Path) -> None:
    result = invoke(["export", "posts", "--excel"], config=config_with_posts)
    assert result.stdout.startswith("\ufeff")


def test_bad_config_exits_2_listing_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("databse: {url: x}\nhashtags: ['#a b']\nsources: {mastodon: {backfill_since: soon}}\n")
    result = invoke(["harvest"], config=bad)
    assert result.exit_code == 2
    for fragment in ("databse", "did you mean 'database'", "hashtags", "backfill_since", "YYYY-MM-DD"):
        assert fragment in result.stderr
