"""User accounts of the reviewers' desk (``hiljade serve``): add, list, disable, passwd."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from hiljade.cli.options import get_config, handle_errors, summary
from hiljade.errors import AccountError
from hiljade.services.accounts import (
    ROLES,
    add,
    disable,
    find_user,
    generated_password,
    list_users,
    set_password,
)
from hiljade.services.store import open_store
from hiljade.wording import plural


def account_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """A change that cannot be made as asked (unknown or taken name, short password): exit 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AccountError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper


def _password(generate: bool) -> tuple[str, bool]:
    """A password from a hidden prompt (asked twice), or a generated one; and whether generated."""
    if generate:
        return generated_password(), True
    return click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True), False


generate_option = click.option(
    "--generate", is_flag=True, help="Generate a random password and print it once (instead of a prompt)."
)


@click.group()
def users() -> None:
    """User accounts of the reviewers' desk: reviewers decide, admins also manage users."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="reviewer", show_default=True,
              help="reviewer: decides on sightings and sites; admin: also manages users.")
@generate_option
@click.pass_context
@handle_errors
@account_errors
def users_add(ctx: click.Context, name: str, role: str, generate: bool) -> None:
    """Add a user; the password comes from a prompt, or with --generate is printed once."""
    store = open_store(get_config(ctx))
    password, generated = _password(generate)
    user = add(store, name, role, password)
    if generated:
        click.echo(password)
    summary(f"users add: {user.name} added as {user.role}"
            + (", password printed above (shown only this once)" if generated else ""))


@users.command("list")
@click.pass_context
@handle_errors
def users_list(ctx: click.Context) -> None:
    """Every user: name, role, whether disabled, when added."""
    accounts = list_users(open_store(get_config(ctx)))
    for user in accounts:
        state = "disabled" if user.disabled else "active"
        click.echo(f"{user.name}\t{user.role}\t{state}\t{user.created_at:%Y-%m-%d %H:%M} UTC")
    disabled = sum(1 for u in accounts if u.disabled)
    summary(f"users list: {plural(len(accounts), 'user')}" + (f", {disabled} disabled" if disabled else ""))


@users.command("disable")
@click.argument("name")
@click.pass_context
@handle_errors
@account_errors
def users_disable(ctx: click.Context, name: str) -> None:
    """Disable a user: they can no longer log in and their open sessions end."""
    user = disable(open_store(get_config(ctx)), name)
    summary(f"users disable: {user.name} disabled, their sessions ended")


@users.command("passwd")
@click.argument("name")
@generate_option
@click.pass_context
@handle_errors
@account_errors
def users_passwd(ctx: click.Context, name: str, generate: bool) -> None:
    """Set a user's password (and enable the user); their open sessions end."""
    store = open_store(get_config(ctx))
    find_user(store, name)  # an unknown name is told before the password is asked
    password, generated = _password(generate)
    user = set_password(store, name, password)
    if generated:
        click.echo(password)
    summary(f"users passwd: new password for {user.name}"
            + (", printed above (shown only this once)" if generated else "") + "; their sessions ended")
