"""Accounts of the reviewers' desk on SQLite and on the real PostgreSQL: `hiljade users`, Argon2
hashes, login and logout, roles, CSRF refusal, throttling recorded in the database, session expiry,
and several app instances (worker processes) sharing one database."""

from __future__ import annotations

import datetime as dt
import re
import time
import types
from collections.abc import Iterator
from pathlib import Path

import itsdangerous.timed
import pytest
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from hiljade.config import Config, load_config
from hiljade.export.database import LEFT_OUT
from hiljade.models.accounts import LoginAttempt, UserAccount
from hiljade.services.accounts import add, login
from hiljade.services.store import init
from hiljade.web import sessions as sessions_module
from hiljade.web.app import create_app
from hiljade.web.sessions import check_csrf, local_path, require
from tests.support.cli import invoke
from tests.support.config import write_config

SECRET = {"HILJADE_WEB_SECRET": "s" * 40}
PASSWORD = "correct horse battery"


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Config:
    path = write_config(tmp_path, db_url, [])
    cfg = load_config(path)
    store, *_ = init(cfg)
    add(store, "ana", "reviewer", PASSWORD)
    add(store, "boss", "admin", PASSWORD)
    store.close()
    return cfg


async def _reviewer_page(request: Request) -> Response:
    return PlainTextResponse(f"hello {require(request, 'reviewer').name}")


async def _admin_page(request: Request) -> Response:
    return PlainTextResponse(f"admin {require(request, 'admin').name}")


async def _change(request: Request) -> Response:
    require(request, "reviewer")
    check_csrf(request, await request.form())
    return PlainTextResponse("changed")


def make_client(config: Config, client: tuple[str, int] = ("203.0.113.5", 50000)) -> TestClient:
    """The real app, plus three test routes guarded by ``require`` and ``check_csrf``."""
    app = create_app(config, environ=SECRET)
    app.router.routes += [
        Route("/t/reviewer", _reviewer_page), Route("/t/admin", _admin_page),
        Route("/t/change", _change, methods=["POST"]),
    ]
    return TestClient(app, follow_redirects=False, client=client)


@pytest.fixture
def client(config: Config) -> Iterator[TestClient]:
    with make_client(config) as c:
        yield c
        c.app.state.store.close()  # type: ignore[attr-defined]


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', page)
    assert found, "no CSRF field in the page"
    return found.group(1)


def log_in(client: TestClient, name: str = "ana", password: str = PASSWORD, next_path: str = "") -> Response:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"csrf": token, "name": name, "password": password, "next": next_path})


def test_users_commands_add_list_disable_passwd(tmp_path: Path, db_url: str) -> None:
    path = write_config(tmp_path, db_url, [])
    assert invoke(["init"], config=path).exit_code == 0
    made = invoke(["users", "add", "mila", "--role", "admin", "--generate"], config=path)
    assert made.exit_code == 0, made.stderr
    generated = made.stdout.strip()
    assert len(generated) >= 16 and "mila added as admin" in made.stderr
    typed = invoke(["users", "add", "vuk"], config=path, input="a long password\na long password\n")
    assert typed.exit_code == 0, typed.stderr
    assert "a long password" not in typed.stdout + typed.stderr
    assert invoke(["users", "add", "vuk", "--generate"], config=path).exit_code == 2
    short = invoke(["users", "add", "zora"], config=path, input="short\nshort\n")
    assert short.exit_code == 2 and "too short" in short.stderr
    assert invoke(["users", "add", "x y", "--generate"], config=path).exit_code == 2
    assert invoke(["users", "disable", "vuk"], config=path).exit_code == 0
    listed = invoke(["users", "list"], config=path)
    assert listed.exit_code == 0
    assert re.search(r"^mila\tadmin\tactive\t", listed.stdout, re.M)
    assert re.search(r"^vuk\treviewer\tdisabled\t", listed.stdout, re.M)
    assert "2 users, 1 disabled" in listed.stderr
    assert invoke(["users", "disable", "nobody"], config=path).exit_code == 2
    unknown = invoke(["users", "passwd", "nobody"], config=path)  # refused before a password is asked
    assert unknown.exit_code == 2 and "no user called nobody" in unknown.stderr
    again = invoke(["users", "passwd", "vuk", "--generate"], config=path)
    assert again.exit_code == 0 and again.stdout.strip() != generated

    cfg = load_config(path)
    store, *_ = init(cfg)
    with store.connect() as conn:
        hashes = conn.execute(select(UserAccount.name, UserAccount.password_hash)).all()
    assert all(h.startswith("$argon2id$") for _, h in hashes)
    assert login(cfg, store, "vuk", again.stdout.strip(), "c").user is not None  # enabled again
    assert login(cfg, store, "mila", generated, "c").user is not None
    store.close()


def test_login_logout_and_roles(client: TestClient) -> None:
    assert client.get("/t/reviewer").status_code == 303
    assert client.get("/t/reviewer?a=1").headers["location"] == "/login?next=%2Ft%2Freviewer%3Fa%3D1"
    answer = log_in(client, next_path="/t/reviewer?a=1")
    assert answer.status_code == 303 and answer.headers["location"] == "/t/reviewer?a=1"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=" in cookie
    assert client.get("/t/reviewer").text == "hello ana"
    assert client.get("/t/admin").status_code == 403  # a reviewer is no admin
    page = client.get("/login").text
    assert client.post("/logout", data={"csrf": csrf_of(page)}).status_code == 303
    assert client.get("/t/reviewer").status_code == 303
    log_in(client, "boss")
    assert client.get("/t/admin").text == "admin boss"
    assert client.get("/t/reviewer").text == "hello boss"


def test_wrong_password_and_unknown_account_get_the_same_answer(client: TestClient) -> None:
    wrong = log_in(client, "ana", "not the password")
    unknown = log_in(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    message = re.compile(r'<p class="error"[^>]*>([^<]*)</p>')
    assert message.search(wrong.text).group(1) == message.search(unknown.text).group(1)  # type: ignore[union-attr]


@pytest.mark.parametrize("target", [
    "//evil.example/x", "https://evil.example/", "/\\evil.example", "http:/evil.example",
    "javascript:alert(1)", "evil.example", "/ok\r\nLocation: http://evil.example",
])
def test_no_open_redirect_after_login(client: TestClient, target: str) -> None:
    answer = log_in(client, next_path=target)
    assert answer.status_code == 303 and answer.headers["location"] == "/review"
    assert local_path("/review/7?method=street") == "/review/7?method=street"


def test_state_changes_need_the_sessions_csrf_token(client: TestClient, config: Config) -> None:
    # a login form posted without the token (or with another session's) is refused
    refused = client.post("/login", data={"name": "ana", "password": PASSWORD})
    assert refused.status_code == 403 and "ana" not in client.get("/t/reviewer").text
    with make_client(config) as other:
        foreign = csrf_of(other.get("/login").text)
    client.get("/login")
    answer = client.post("/login", data={"csrf": foreign, "name": "ana", "password": PASSWORD})
    assert answer.status_code == 403
    log_in(client)
    token = csrf_of(client.get("/login").text)
    assert client.post("/t/change", data={}).status_code == 403
    wrong = ("y" if token[0] == "x" else "x") + token[1:]  # never equal to the real token
    assert client.post("/t/change", data={"csrf": wrong}).status_code == 403
    assert client.post("/t/change", data={"csrf": token}).text == "changed"
    assert client.post("/t/change", headers={"X-CSRF-Token": token}).text == "changed"
    assert client.post("/logout", data={}).status_code == 403  # logout too
    assert client.get("/t/reviewer").status_code == 200


def test_login_page_escapes_the_name_typed(client: TestClient) -> None:
    page = log_in(client, '"><img src=x onerror=alert(1)>', "wrong password").text
    assert "<img src=x" not in page and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_throttling_per_account_and_per_client(config: Config) -> None:
    store, *_ = init(config)
    now = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
    for i in range(5):
        assert not login(config, store, "ana", "wrong", f"10.0.0.{i}", now=now).throttled
    # five failures for the name: even the right password is not tried, from any address
    locked = login(config, store, "ana", PASSWORD, "10.9.9.9", now=now)
    assert locked.throttled and locked.user is None
    # an unknown name is throttled exactly like a known one
    for _ in range(5):
        login(config, store, "ghost", "wrong", "10.1.1.1", now=now)
    assert login(config, store, "ghost", "wrong", "10.1.1.2", now=now).throttled
    # ... and the window passes
    later = now + dt.timedelta(minutes=16)
    assert login(config, store, "ana", PASSWORD, "10.9.9.9", now=later).user is not None
    # per client address: five failures on different names lock the address out
    for name in ("a1", "a2", "a3", "a4", "a5"):
        login(config, store, name, "wrong", "198.51.100.7", now=later)
    assert login(config, store, "boss", PASSWORD, "198.51.100.7", now=later).throttled
    assert login(config, store, "boss", PASSWORD, "198.51.100.8", now=later).user is not None
    # a success forgives the name's earlier failures
    for _ in range(4):
        login(config, store, "boss", "wrong", "192.0.2.1", now=later)
    assert login(config, store, "boss", PASSWORD, "192.0.2.2", now=later).user is not None
    assert login(config, store, "boss", "wrong", "192.0.2.3", now=later).user is None
    assert login(config, store, "boss", PASSWORD, "192.0.2.4", now=later).user is not None
    with store.connect() as conn:
        assert len(conn.execute(select(LoginAttempt.id)).all()) > 20  # recorded in the database
    # attempts older than web.login.keep_days are forgotten
    login(config, store, "ana", PASSWORD, "10.9.9.9", now=later + dt.timedelta(days=31))
    with store.connect() as conn:
        assert len(conn.execute(select(LoginAttempt.id)).all()) == 1
    store.close()


def test_throttling_over_http_is_shared_by_app_instances(config: Config) -> None:
    with make_client(config, ("192.0.2.10", 1)) as first, make_client(config, ("192.0.2.11", 1)) as second:
        for c in (first, second, first, second, first):
            assert log_in(c, "ana", "wrong password").status_code == 401
        # three failures from one address, two from the other: the name has five, on two instances
        answer = log_in(second, "ana", PASSWORD)
        assert answer.status_code == 429 and "Previše neuspelih pokušaja" in answer.text
        english = first.get("/login?lang=en")
        token = csrf_of(english.text)
        again = first.post("/login", data={"csrf": token, "name": "ana", "password": PASSWORD})
        assert again.status_code == 429 and "Too many failed attempts" in again.text


def test_a_session_works_on_every_instance_and_ends_everywhere(config: Config) -> None:
    with make_client(config) as first, make_client(config) as second:
        log_in(first)
        second.cookies = first.cookies
        assert second.get("/t/reviewer").text == "hello ana"
        token = csrf_of(second.get("/login").text)
        stolen = dict(first.cookies)
        assert second.post("/logout", data={"csrf": token}).status_code == 303
        # the old cookie, replayed on the other instance, no longer logs anyone in
        first.cookies = stolen
        assert first.get("/t/reviewer").status_code == 303


def test_disabled_or_new_password_ends_open_sessions(config: Config, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    with make_client(config) as c:
        log_in(c)
        assert c.get("/t/reviewer").status_code == 200
        assert invoke(["users", "passwd", "ana", "--generate"], config=path).exit_code == 0
        assert c.get("/t/reviewer").status_code == 303
        new = invoke(["users", "passwd", "ana"], config=path, input=f"{PASSWORD}\n{PASSWORD}\n")
        assert new.exit_code == 0
        log_in(c)
        assert c.get("/t/reviewer").status_code == 200
        assert invoke(["users", "disable", "ana"], config=path).exit_code == 0
        assert c.get("/t/reviewer").status_code == 303
        assert log_in(c).status_code == 401  # a disabled account: the same answer as a wrong password


def test_sessions_expire(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    with make_client(config) as c:
        log_in(c)
        assert c.get("/t/reviewer").status_code == 200
        later = itsdangerous.timed.time.time() + int(config.get("web.session_max_age_seconds")) + 60
        monkeypatch.setattr(itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: later))
        assert c.get("/t/reviewer").status_code == 303


def test_the_server_ends_a_login_after_its_lifetime(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    with make_client(config) as c:
        log_in(c)
        lifetime = int(config.get("web.session_max_age_seconds"))
        start = time.time()
        soon, late = (types.SimpleNamespace(time=lambda d=d: start + lifetime + d) for d in (-60, 60))
        monkeypatch.setattr(sessions_module, "time", soon)
        assert c.get("/t/reviewer").status_code == 200
        # the cookie's own signature is still fresh here: the login's age is checked by the server,
        # so a session that something renewed still ends on time
        monkeypatch.setattr(sessions_module, "time", late)
        assert c.get("/t/reviewer").status_code == 303


def test_accounts_stay_out_of_the_researchers_copy() -> None:
    assert {"users", "login_attempts"} <= set(LEFT_OUT)


def test_anonymous_public_visitors_get_no_session_cookie(client: TestClient) -> None:
    answer = client.get("/")
    assert answer.status_code == 200 and "set-cookie" not in answer.headers
    assert "set-cookie" in client.get("/login").headers  # the login form's CSRF token needs one


def test_admins_see_and_disable_users_on_the_web(client: TestClient, config: Config) -> None:
    assert client.get("/users").status_code == 303
    log_in(client, "ana")
    assert client.get("/users").status_code == 403  # reviewers manage no one
    token = csrf_of(client.get("/login").text)
    assert client.post("/users/disable", data={"csrf": token, "name": "boss"}).status_code == 403
    client.post("/logout", data={"csrf": token})
    with make_client(config, ("192.0.2.99", 1)) as ana:
        log_in(ana, "ana")
        log_in(client, "boss")
        page = client.get("/users?lang=en")
        assert page.status_code == 200 and "<td>ana</td>" in page.text and "reviewer" in page.text
        token = csrf_of(page.text)
        assert client.post("/users/disable", data={"name": "ana"}).status_code == 403  # no token
        assert client.post("/users/disable", data={"csrf": token, "name": "boss"}).status_code == 400
        assert client.post("/users/disable", data={"csrf": token, "name": "nobody"}).status_code == 404
        done = client.post("/users/disable", data={"csrf": token, "name": "ana"})
        assert done.status_code == 303
        assert "disabled and logged out" in client.get(done.headers["location"]).text
        assert ana.get("/t/reviewer").status_code == 303  # her open session ended
