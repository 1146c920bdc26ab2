"""`hiljade import mail PATH` end to end on SQLite and PostgreSQL: messages built here with the
``email`` package, carrying photos with GPS EXIF, in an mbox, a maildir and a folder of .eml files;
refused attachments; the sender never stored in clear; exif sightings after `hiljade process`."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import mailbox
import os
from email.message import EmailMessage
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, text

from hiljade.config import load_config
from hiljade.harvester.mail import clean_text, detect_container, parse_message, sent_at
from hiljade.models.schema import Author, Media, Post, Sighting
from hiljade.privacy import pseudonym
from hiljade.services.store import author_policy, open_store
from tests.support.cli import cli
from tests.support.imports import prepared
from tests.support.limits import traced_peak, within_seconds
from tests.support.photos import jpeg_with_gps, plain_image
from tests.support.places import TAKOVSKA, distance_m

SENDER = "Marko.Markovic@Example.org"
NAME = "Marko Marković"
PHOTO = jpeg_with_gps(*TAKOVSKA, direction=200.0)
CAP = 200_000


def reports() -> list[EmailMessage]:
    """Three emailed reports: a photo with GPS (+ a PDF and a huge file), HTML only, no headers to key on."""
    first = EmailMessage()
    first["From"] = email.utils.formataddr((NAME, SENDER))
    first["To"] = "hiljade@example.net"
    first["Subject"] = "Nova kamera #hiljadekamera"
    first["Date"] = "Tue, 14 May 2019 18:02:11 +0200"
    first["Message-ID"] = "<CAB1234.5678@mail.example.org>"
    first.set_content(
        "Kamera u Takovskoj, na stubu kod parka.\n"
        "Pisite mi na marko.m@example.com ili zovite +381 64 123 4567.\n\n"
        "Pozdrav, Marko Marković\n"
        "-- \n"
        "Marko Marković\nMarko.Markovic@Example.org\n"
    )
    first.add_attachment(PHOTO, maintype="image", subtype="jpeg", filename="IMG_0001.jpg")
    first.add_attachment(b"%PDF-1.4\n%%EOF\n", maintype="application", subtype="pdf", filename="prijava.pdf")
    first.add_attachment("Spisak kamera\n", filename="spisak.txt")
    first.add_attachment(os.urandom(CAP + 50_000), maintype="image", subtype="jpeg", filename="huge.jpg")

    second = EmailMessage()
    second["From"] = "ana@example.org"
    second["Subject"] = "Re: kamera"
    second["Date"] = "Wed, 15 May 2019 09:00:00 +0200"
    second["Message-ID"] = "<second@example.org>"
    second.set_content(
        "<html><body><p>Jos jedna kamera <b>u Takovskoj</b>.</p>"
        "<blockquote>stara poruka</blockquote></body></html>",
        subtype="html",
    )
    second.add_attachment(plain_image(), maintype="image", subtype="png", filename="no-gps.png")

    third = EmailMessage()  # no Message-ID, no Date: keyed by its bytes, dated by the file
    third["From"] = "someone@example.org"
    third["Subject"] = "bez datuma"
    third.set_content(
        "Kamera na uglu.\n\nOn Mon, 13 May 2019, Marko <m@example.org> wrote:\n> citat koji ne treba\n"
    )
    return [first, second, third]


def write_container(kind: str, root: Path) -> Path:
    messages = reports()
    if kind == "mbox":
        path = root / "reports.mbox"
        box = mailbox.mbox(path)
        for message in messages:
            box.add(message)
        box.flush()
        box.close()
    elif kind == "maildir":
        path = root / "Maildir"
        box = mailbox.Maildir(path, create=True)
        box.add(messages[0])
        sub = box.add_folder("kamere")
        for message in messages[1:]:
            sub.add(message)
    else:
        path = root / "eml"
        (path / "2019").mkdir(parents=True)
        for n, message in enumerate(messages):
            (path / "2019" / f"{n}.eml").write_bytes(message.as_bytes())
        (path / "notes.txt").write_text("not a message", "utf-8")
    return path


def posts_by_subject(config: Path) -> dict[str, object]:
    store = open_store(load_config(config))
    with store.connect() as conn:
        rows = conn.execute(select(Post.__table__)).all()
    store.close()
    return {row.text.split("\n")[0]: row for row in rows}


@pytest.mark.parametrize("kind", ["mbox", "maildir", "eml"])
def test_import_mail_from_every_container(tmp_path: Path, db_url: str, kind: str) -> None:
    config = prepared(tmp_path, db_url, cap=CAP)
    path = write_container(kind, tmp_path)
    assert detect_container(path) == kind
    code, _, err = cli(config, "import", "mail", str(path))
    assert code == 0, err
    assert (
        f"import mail: 3 messages ({kind}): 3 imported, 0 already known, 0 unreadable; 2 photos accepted, "
        "1 with GPS; refused attachments 3: 1 format not allowed, 1 not an image, 1 too large"
    ) in err
    posts = posts_by_subject(config)
    first = posts["Nova kamera #hiljadekamera"]
    assert first.platform == "mail" and first.server == "mail" and first.hashtags == ["hiljadekamera"]
    assert first.uri == "mail:" + hashlib.sha256(b"<CAB1234.5678@mail.example.org>").hexdigest()
    assert first.created_at == dt.datetime(2019, 5, 14, 16, 2, 11, tzinfo=dt.UTC)
    assert "Kamera u Takovskoj, na stubu kod parka." in first.text
    assert "[email]" in first.text and "[phone]" in first.text and "Pozdrav, [sender]" in first.text
    assert first.raw["attachments"] == [
        {
            "name": "IMG_0001.jpg",
            "type": "image/jpeg",
            "bytes": len(PHOTO),
            "sha256": hashlib.sha256(PHOTO).hexdigest(),
        },
        {"name": "prijava.pdf", "type": "application/pdf", "bytes": 15, "refused": "format_not_allowed"},
        {"name": "spisak.txt", "type": "text/plain", "bytes": 14, "refused": "not_an_image"},
        {
            "name": "huge.jpg",
            "type": "image/jpeg",
            "bytes": first.raw["attachments"][3]["bytes"],
            "refused": "too_large",
        },
    ]
    # the sender only as the pseudonym (issue 9, item 3: every stored payload names its author so)
    assert set(first.raw) == {"subject", "date", "container", "attachments", "media_exif", "author_pseudonym"}
    assert first.raw["media_exif"][0]["lat"] == pytest.approx(TAKOVSKA[0], abs=1e-5)
    html = posts["Re: kamera"]
    assert "Jos jedna kamera u Takovskoj." in html.text and "<b>" not in html.text
    third = posts["bez datuma"]
    assert third.text == "bez datuma\n\nKamera na uglu." and third.created_at.year >= 2024
    store = open_store(load_config(config))
    with store.connect() as conn:
        media = conn.execute(select(Media.url, Media.sha256, Media.type)).all()
    store.close()
    assert sorted((m.sha256, m.type) for m in media) == sorted(
        (hashlib.sha256(data).hexdigest(), "image") for data in (PHOTO, plain_image())
    )
    assert first.raw["attachments"][3]["bytes"] > CAP

    code, _, err = cli(config, "import", "mail", str(path))
    assert code == 0 and "0 imported, 3 already known" in err
    assert len(posts_by_subject(config)) == 3


def test_sender_is_never_stored_in_clear(tmp_path: Path, sqlite_url: str) -> None:
    config = prepared(tmp_path, sqlite_url, cap=CAP)
    path = write_container("mbox", tmp_path)
    assert cli(config, "import", "mail", str(path))[0] == 0
    cfg = load_config(config)
    store = open_store(cfg)
    with store.connect() as conn:
        tables = [r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))]
        dump = repr([conn.execute(text(f'SELECT * FROM "{t}"')).all() for t in tables])
        authors = conn.execute(select(Author.platform, Author.pseudonym, Author.handle)).all()
    store.close()
    for secret in (SENDER, SENDER.lower(), "Marković", "Markovic@", "mail.example.org", "+381"):
        assert secret.lower() not in dump.lower(), secret
    files = [tmp_path / "hiljade.db", tmp_path / "hiljade.db-wal"]
    raw_bytes = b"".join(f.read_bytes() for f in files if f.exists()).lower()
    assert SENDER.lower().encode() not in raw_bytes and b"example.org>" not in raw_bytes
    key = author_policy(cfg).secret
    assert ("mail", pseudonym(key, "mail", SENDER.lower()), None) in authors


def test_process_turns_mailed_photos_into_exif_sightings(tmp_path: Path, db_url: str) -> None:
    config = prepared(tmp_path, db_url, cap=CAP)
    assert cli(config, "import", "mail", str(write_container("eml", tmp_path)))[0] == 0
    code, _, err = cli(config, "process")
    assert code == 0, err
    first = posts_by_subject(config)["Nova kamera #hiljadekamera"]
    store = open_store(load_config(config))
    with store.connect() as conn:
        chosen = conn.execute(
            select(Sighting.__table__).where(Sighting.post_id == first.id, Sighting.chosen.is_(True))
        ).one()
    store.close()
    assert chosen.method == "exif" and chosen.status == "auto" and chosen.matched == "IMG_0001.jpg"
    assert distance_m((chosen.lat, chosen.lon), TAKOVSKA) < 2 and chosen.evidence["direction"] == 200.0
    assert chosen.evidence["sha256"] == hashlib.sha256(PHOTO).hexdigest()


def test_clean_text_drops_quotes_signatures_and_contact_details() -> None:
    body = (
        "Kamera kod Vuka.\n> citirano\nFrom: Neko <neko@example.org>\nZvati 064 ali ne +381 (11) 123-456\n"
        "Sent from my iPhone\n--\nPetar Petrović\n"
    )
    cleaned = clean_text(body, "petar@example.org", "Petar Petrović")
    assert cleaned == "Kamera kod Vuka.\nZvati 064 ali ne [phone]"
    assert clean_text("Javlja PETAR PETROVIĆ, 44.8157, 20.4623", None, "Petar Petrović") == (
        "Javlja [sender], 44.8157, 20.4623"
    )
    assert clean_text("Kamera.\n\n---- Original Message ----\nstaro", None, None) == "Kamera."


def test_dates_and_container_detection(tmp_path: Path) -> None:
    assert sent_at(parse_message(b"Date: Tue, 14 May 2019 18:02:11 -0000\n\nx")) == dt.datetime(
        2019, 5, 14, 18, 2, 11, tzinfo=dt.UTC
    )
    assert sent_at(parse_message(b"Date: not a date\n\nx")) is None
    single = tmp_path / "one.eml"
    single.write_bytes(reports()[2].as_bytes())
    assert detect_container(single) == "eml"
    assert detect_container(tmp_path) == "eml"


def test_a_file_without_headers_is_unreadable_not_a_post(tmp_path: Path, sqlite_url: str) -> None:
    config = prepared(tmp_path, sqlite_url, cap=CAP)
    junk = tmp_path / "junk.eml"
    junk.write_bytes(bytes(range(128, 256)) * 16 + b"\n")
    code, _, err = cli(config, "import", "mail", str(junk))
    assert code == 1 and "1 message (eml): 0 imported, 0 already known, 1 unreadable" in err
    assert posts_by_subject(config) == {}


def raw_message(subject: bytes, message_id: bytes) -> bytes:
    return (b"From: ana@example.org\r\nSubject: " + subject + b"\r\nMessage-ID: " + message_id
            + b"\r\nDate: Wed, 15 May 2019 09:00:00 +0200\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\nKamera u Takovskoj.\r\n")


def test_hostile_mail_is_refused_before_parsing_in_bounded_time_and_memory(
    tmp_path: Path, db_url: str
) -> None:
    config = prepared(tmp_path, db_url, cap=CAP)
    settings = yaml.safe_load(config.read_text("utf-8"))
    settings["imports"]["max_message_bytes"] = 1_000_000
    config.write_text(yaml.safe_dump(settings), "utf-8")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    bomb = raw_message(b"=?utf-8?q?abc?= " * 6_500, b"<bomb@x>")  # 100 kB of encoded words
    (inbox / "1-subject-bomb.eml").write_bytes(bomb)
    big = EmailMessage()
    big["From"], big["Subject"], big["Message-ID"] = "ana@example.org", "big", "<big@x>"
    big.set_content("Kamera.")
    big.add_attachment(os.urandom(2_000_000), maintype="image", subtype="jpeg", filename="big.jpg")
    (inbox / "2-too-large.eml").write_bytes(big.as_bytes())
    (inbox / "3-nul.eml").write_bytes(raw_message(b"=?utf-8?q?Kamera=00_kod_Vuka?=", b"<nul@x>"))
    os.mkfifo(inbox / "4-pipe.eml")
    (inbox / "5-passwd.eml").symlink_to("/etc/passwd")
    (inbox / "6-good.eml").write_bytes(raw_message(b"Nova kamera #hiljadekamera", b"<good@x>"))
    with within_seconds(60), traced_peak() as peak:
        code, _, err = cli(config, "import", "mail", str(inbox))
    assert code == 0, err
    assert peak.bytes < 64 << 20, f"peak {peak.bytes:,} bytes"
    assert (
        "import mail: 6 messages (eml): 2 imported, 0 already known, 0 unreadable, 4 refused "
        "(1 header too long, 1 message too large, 1 not a file, 1 outside folder)"
    ) in err.splitlines()[-1]
    posts = posts_by_subject(config)
    assert set(posts) == {"Kamera kod Vuka", "Nova kamera #hiljadekamera"}
    assert "\x00" not in posts["Kamera kod Vuka"].raw["subject"]
