"""Author pseudonyms: a keyed HMAC, with the key from HILJADE_SECRET or a file only its owner can read."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from hiljade.defaults import PSEUDONYM_KEY_ENV as SECRET_ENV
from hiljade.errors import ConfigError
from hiljade.secrecy import add_secret, keep_secret


def secret_path(config_secret_file: str, database_url: str) -> Path:
    """Where the generated key lives: the configured file, else beside a SQLite database, else ./."""
    if config_secret_file:
        return Path(config_secret_file).expanduser()
    if database_url.startswith("sqlite:///") and database_url != "sqlite:///:memory:":
        return Path(database_url.removeprefix("sqlite:///")).expanduser().resolve().parent / "hiljade.secret"
    return Path("hiljade.secret").resolve()


def load_secret(path: Path, environ: Mapping[str, str] | None = None) -> bytes:
    """The pseudonym key: HILJADE_SECRET if set, else the key file; ConfigError says how to fix a miss."""
    env = os.environ if environ is None else environ
    if env.get(SECRET_ENV):
        return keep_secret(env[SECRET_ENV], SECRET_ENV).encode("utf-8")
    try:
        mode = path.stat().st_mode
        data = path.read_bytes().strip()
    except FileNotFoundError:
        raise ConfigError(
            [f"no pseudonym key: set {SECRET_ENV} or run `hiljade init`, which writes one to {path}"]
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError([f"{path}: the key file is readable by others; run `chmod 600 {path}`"])
    if len(data) < 32:
        raise ConfigError([f"{path}: the key is too short; delete the file only if no data depends on it"])
    add_secret(data.decode("utf-8", "replace"))
    return data


def ensure_secret(path: Path, environ: Mapping[str, str] | None = None) -> bool:
    """Create the key file once (mode 600) unless HILJADE_SECRET is set; True when created."""
    env = os.environ if environ is None else environ
    if env.get(SECRET_ENV) or path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return True


def pseudonym(secret: bytes, platform: str, account_key: str) -> str:
    """A stable keyed pseudonym for one account; without the key it cannot be reversed or recomputed."""
    return hmac.new(secret, f"{platform}\x00{account_key}".encode(), hashlib.sha256).hexdigest()
