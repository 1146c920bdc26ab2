"""The command line as a whole: every command has help and is in the README; export keeps authors out."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from hiljade.cli import main
from hiljade.config import load_config
from hiljade.models.posts import save_post
from hiljade.records import AuthorRecord, PostRecord
from hiljade.services.store import author_policy, open_store
from tests.conftest import REPO, write_config


def all_commands(group: click.Group, prefix: str = "hiljade") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found.extend(all_commands(command, path))
        else:
            found.append((path, command))
    return found


@pytest.mark.parametrize("path", [p for p, _ in all_commands(main)])
def test_every_command_has_help_and_is_in_the_readme(path: str) -> None:
    args = path.split()[1:] + ["--help"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0
    assert "Usage:" in result.stdout and len(result.stdout.splitlines()) > 3
    assert f"`{path}" in (REPO / "README.md").read_text("utf-8"), f"{path} is not documented in the README"


@pytest.fixture
def config_with_posts(tmp_path: Path, sqlite_url: str) -> Path:
    config = write_config(tmp_path, sqlite_url, [], privacy__store_handles=True)
    CliRunner().invoke(main, ["--config", str(config), "init"], catch_exceptions=False)
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
    result = CliRunner().invoke(
        main,
        ["--config", str(config_with_posts), "export", "posts", "--format", "csv"],
        catch_exceptions=False,
    )
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
    args = ["--config", str(config_with_posts), "export", "posts", "--format", "jsonl", "-o", str(out)]
    CliRunner().invoke(main, args, catch_exceptions=False)
    plain = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert "author_pseudonym" not in plain[0] and "mila" not in out.read_text("utf-8")
    CliRunner().invoke(main, [*args, "--include-authors"], catch_exceptions=False)
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(rows[0]["author_pseudonym"]) == 64 and rows[0]["author_handle"] == "mila@a.example"


def test_excel_flag_writes_a_bom(config_with_posts: Path) -> None:
    result = CliRunner().invoke(
        main, ["--config", str(config_with_posts), "export", "posts", "--excel"], catch_exceptions=False
    )
    assert result.stdout.startswith("\ufeff")


def test_bad_config_exits_2_listing_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("databse: {url: x}\nhashtags: ['#a b']\nsources: {mastodon: {backfill_since: soon}}\n")
    result = CliRunner().invoke(main, ["--config", str(bad), "harvest"], catch_exceptions=False)
    assert result.exit_code == 2
    for fragment in ("databse", "did you mean 'database'", "hashtags", "backfill_since", "YYYY-MM-DD"):
        assert fragment in result.stderr
