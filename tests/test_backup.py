"""`flask backup DIR` and `flask restore DIR`: a backup restored into an empty database and folder gives the same
rows and files, and serves the same photos; a damaged or incomplete backup, or a target that is not empty, is
refused before anything is written.

On the suite's database kind: on PostgreSQL the suite's database is backed up and restored into
`<test database>_restore`, created and dropped here; on SQLite (the suite's database is in memory) a file
database is backed up and restored into another file."""
import hashlib
import io
import os
import sqlite3
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import MetaData, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from portal import backup, create_app
from portal.config import TestConfig, _database_url
from portal.extensions import db
from portal.issues.models import IssuePhoto
from tests.conftest import Auth, RequestIsolatedClient
from tests.factories import gen_residency, gen_user
from tests.issues import gen_issue
from tests.residents import build_world


def png_bytes(colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def source(app, tmp_path):
    """The app to back up, in its context, with an upload folder of its own."""
    if os.environ.get("TEST_DATABASE_URL"):
        source_app = app
    else:
        # The suite's empty database in memory, copied to a file (far quicker than create_all on a file).
        path = tmp_path / "source.sqlite3"
        raw, copy = db.engine.raw_connection(), sqlite3.connect(path)
        try:
            raw.driver_connection.backup(copy)
        finally:
            copy.close()
            raw.close()
        source_app = create_app(TestConfig(database_url=f"sqlite:///{path}"))
        source_app.test_client_class = RequestIsolatedClient
    saved = source_app.config["UPLOAD_DIR"]
    source_app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    with source_app.app_context():
        yield source_app
        db.session.remove()
        if source_app is not app:
            db.engine.dispose()
    source_app.config["UPLOAD_DIR"] = saved


@pytest.fixture
def target(tmp_path):
    """(database URL, upload folder) to restore into, both empty."""
    uploads = tmp_path / "restored-uploads"
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}", uploads
        return
    url = make_url(_database_url(base))
    name = f"{url.database}_restore"
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False), uploads
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def app_for(url, uploads):
    restored = create_app(TestConfig(database_url=url))
    restored.config["UPLOAD_DIR"] = str(uploads)
    restored.test_client_class = RequestIsolatedClient
    return restored


def seed_world():
    """Three communities with their committees and residents, and a reported issue with a photo."""
    world = build_world()
    world.reporter = gen_user(display_name="Reporter P", phone="13811110001")
    gen_residency(world.reporter, household=world.hx)
    world.issue = gen_issue(world, photos=[png_bytes()])
    db.session.commit()
    world.photo_key = db.session.scalar(select(IssuePhoto.key))
    # Plain values: a model object of this session would load itself through whichever app is current.
    world.reporter_login = world.reporter.login_name
    return world


def fingerprints(engine) -> dict[str, tuple[int, str]]:
    """Each table's row count and a checksum of its rows in primary-key order."""
    metadata = MetaData()
    metadata.reflect(engine)
    result = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*(table.primary_key.columns or table.columns))).all()
            result[table.name] = (len(rows), hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest())
    return result


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def table_count(url) -> int:
    if url.startswith("sqlite") and not Path(make_url(url).database).exists():
        return 0
    return len(backup.Database(_database_url(url)).table_names())


def invoke(app, *args):
    """Run a command on this app, as `flask --app portal ...` does (a test's runner uses the current app)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=[str(arg) for arg in args])


def run_backup(source_app, folder):
    result = invoke(source_app, "backup", folder)
    assert result.exit_code == 0, result.output
    return result


def test_backup_then_restore_gives_the_same_rows_files_and_photos(source, target, tmp_path):
    world = seed_world()
    uploads = Path(source.config["UPLOAD_DIR"])
    assert len(files_under(uploads)) == 2  # the photo's two sizes
    folder = tmp_path / "backups" / "2026-12-05"

    made = run_backup(source, folder)
    assert "files: 2 from" in made.output and f"backup written to {folder}" in made.output
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".partial-")]
    manifest = backup.read_manifest(folder)
    assert manifest["database"] == make_url(source.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()
    assert manifest["created_at"].endswith("Z") and manifest["portal_version"] and manifest["alembic_head"]
    assert manifest["files"][0]["path"] == manifest["database_file"]
    assert {e["path"] for e in manifest["files"][1:]} == {f"uploads/{name}" for name in files_under(uploads)}

    url, restored_uploads = target
    restored = app_for(url, restored_uploads)
    result = invoke(restored, "restore", folder)
    assert result.exit_code == 0, result.output
    assert "verified: 3 files" in result.output and "files: 2 restored" in result.output

    restored_engine = create_engine(_database_url(url), poolclass=NullPool)
    try:
        before, after = fingerprints(db.engine), fingerprints(restored_engine)
    finally:
        restored_engine.dispose()
    assert before["issue_photo"][0] == 1 and before["user"][0] > 10
    assert after == before
    assert files_under(restored_uploads) == files_under(uploads)

    with restored.app_context():
        client = restored.test_client()
        assert client.get("/").status_code == 200
        Auth(client).login(world.reporter_login)  # the password hash came back too
        served = client.get(f"/issues/photos/{world.photo_key}-400.jpg")
        assert served.status_code == 200
        assert served.data == (uploads / "issues" / f"{world.photo_key}-400.jpg").read_bytes()
        gen_user(display_name="After the restore")  # sequences came back: new rows get fresh ids
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def tamper_photo(folder):
    photo = next((folder / "uploads" / "issues").iterdir())
    data = bytearray(photo.read_bytes())
    data[len(data) // 2] ^= 0xFF
    photo.write_bytes(bytes(data))
    return photo.name


def tamper_database(folder):
    dump = next(p for p in folder.iterdir() if p.name.startswith("database."))
    with open(dump, "ab") as f:
        f.write(b"\0")
    return dump.name


def remove_photo(folder):
    photo = next((folder / "uploads" / "issues").iterdir())
    photo.unlink()
    return photo.name


def add_a_file(folder):
    (folder / "uploads" / "issues" / "planted.jpg").write_bytes(b"not from the portal")
    return "planted.jpg"


@pytest.mark.parametrize("damage", [tamper_photo, tamper_database, remove_photo, add_a_file])
def test_a_damaged_or_incomplete_backup_is_refused_and_nothing_is_written(source, target, tmp_path, damage):
    seed_world()
    folder = tmp_path / "backup"
    run_backup(source, folder)
    damaged = damage(folder)
    url, restored_uploads = target

    result = invoke(app_for(url, restored_uploads), "restore", folder)

    assert result.exit_code != 0
    assert damaged in result.output and "refused" in result.output
    assert table_count(url) == 0
    assert not restored_uploads.exists()


def test_restore_into_a_database_with_tables_is_refused(source, target, tmp_path):
    seed_world()
    folder = tmp_path / "backup"
    run_backup(source, folder)
    _, restored_uploads = target
    rows = fingerprints(db.engine)

    result = invoke(app_for(source.config["SQLALCHEMY_DATABASE_URI"], restored_uploads), "restore", folder)

    assert result.exit_code != 0 and "not empty" in result.output
    assert fingerprints(db.engine) == rows
    assert not restored_uploads.exists()


def test_restore_into_an_upload_folder_with_files_is_refused(source, target, tmp_path):
    seed_world()
    folder = tmp_path / "backup"
    run_backup(source, folder)
    url, restored_uploads = target
    (restored_uploads / "issues").mkdir(parents=True)
    (restored_uploads / "issues" / "someone-elses.jpg").write_bytes(b"x")

    result = invoke(app_for(url, restored_uploads), "restore", folder)

    assert result.exit_code != 0 and "someone-elses.jpg" in result.output
    assert table_count(url) == 0
    assert files_under(restored_uploads) == {"issues/someone-elses.jpg": b"x"}


def test_a_failed_backup_leaves_nothing_behind(source, tmp_path, monkeypatch):
    seed_world()

    def disk_full(source_path, target_path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup, "_copy_hashing", disk_full)
    result = invoke(source, "backup", tmp_path / "backups" / "today")
    assert result.exit_code != 0 and "No space left on device" in result.output
    assert list((tmp_path / "backups").iterdir()) == []


def test_backup_refuses_a_folder_that_is_not_empty(source, tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.json").write_text("{}")
    result = invoke(source, "backup", tmp_path / "old")
    assert result.exit_code != 0 and "not empty" in result.output
    assert (tmp_path / "old" / "manifest.json").read_text() == "{}"


def test_the_password_goes_to_the_environment_not_the_command_line():
    database = backup.Database("postgresql+psycopg://yishi:s3cret@db.internal:5433/yishi?sslmode=require")
    options, env = database.libpq()
    assert options == ["--host", "db.internal", "--port", "5433", "--username", "yishi",
                       "--dbname", "dbname='yishi' sslmode='require'"]
    assert env["PGPASSWORD"] == "s3cret" and "s3cret" not in " ".join(options)


def test_a_missing_or_old_pg_dump_says_what_to_install(monkeypatch):
    with pytest.raises(backup.BackupError) as old_or_missing:
        backup._client_program("pg_dump", 99)
    assert "apt-get install postgresql-client-99" in str(old_or_missing.value)
    monkeypatch.setattr(backup.shutil, "which", lambda name: None)
    with pytest.raises(backup.BackupError) as missing:
        backup._client_program("pg_dump", 99)
    assert "pg_dump was not found" in str(missing.value) and "postgresql-client-99" in str(missing.value)


def test_an_sqlite_database_in_memory_cannot_be_backed_up(tmp_path):
    with pytest.raises(backup.BackupError, match="in memory"):
        backup.create_backup(tmp_path / "backup", "sqlite://", tmp_path / "uploads")
    assert not (tmp_path / "backup").exists()
