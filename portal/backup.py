"""Backups: `flask --app portal backup DIR` and `flask --app portal restore DIR`.

A backup is a folder:

    manifest.json       format version, portal version, alembic revision, database kind, when (UTC), and
                        every other file's relative path, size and SHA-256
    database.dump       PostgreSQL: pg_dump's custom format (-Fc), read by pg_restore
    database.sqlite3    SQLite: a copy made with SQLite's online backup API
    uploads/...         every stored file of UPLOAD_DIR, at the same relative paths

The database is copied first and the files after it: a photo is written to disk before its row is committed, so
every row in the dump finds its file in the backup (a file written meanwhile is a harmless orphan). The backup is
written into a hidden folder beside DIR (`.partial-<name>-...`, on the same disk) and renamed to DIR only when
complete, so a backup that failed half-way is never taken for one.

Restore reads the manifest and checks every file's size and checksum before it touches anything; it refuses a
database that has tables and an upload folder that has files. It then copies the files into a hidden folder
inside the upload folder (checking each again), restores the database (pg_restore in one transaction, or SQLite's
backup API), and only then moves the files into place.

A core module: it works on a database URL and a folder, and knows nothing of the areas.
"""
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import click
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from portal.clock import utcnow

FORMAT = "yishi-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
UPLOADS = "uploads"
DATABASE_FILES = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}
RESTORE_STAGING_PREFIX = ".restore-partial-"
CHUNK = 1024 * 1024
SHA256 = re.compile(r"[0-9a-f]{64}")


class BackupError(Exception):
    """A backup or restore that cannot go on. The message says why, naming the file when one is at fault."""


# --- The database behind a URL ----------------------------------------------------------------------------------

class Database:
    """What backup and restore need of a database URL: its kind, an engine for a few questions, and for
    PostgreSQL how to reach it from pg_dump / pg_restore without the password on a command line."""

    def __init__(self, database_url: str):
        self.url = make_url(database_url)
        self.kind = self.url.get_backend_name()
        if self.kind not in DATABASE_FILES:
            raise BackupError(f"Cannot back up or restore a {self.kind} database: only PostgreSQL and SQLite.")
        if self.kind == "sqlite" and self.url.database in (None, "", ":memory:"):
            raise BackupError("The database is SQLite in memory: there is no file to back up or restore into.")

    def __str__(self):
        if self.kind == "sqlite":
            return f"SQLite {self.url.database}"
        return f"PostgreSQL database {self.url.database} on {self.url.host or 'the local socket'}"

    def engine(self):
        return create_engine(self.url, poolclass=NullPool)

    def table_names(self) -> list[str]:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                if self.kind == "sqlite":
                    return inspect(conn).get_table_names()
                return list(conn.execute(text(
                    "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")).scalars())
        finally:
            engine.dispose()

    def alembic_revision(self) -> str | None:
        """The migration the database is at (None when it was made without migrations)."""
        engine = self.engine()
        try:
            with engine.connect() as conn:
                if not inspect(conn).has_table("alembic_version"):
                    return None
                return ",".join(sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())) or None
        finally:
            engine.dispose()

    def server_version(self) -> tuple[int, str]:
        """PostgreSQL's (major, full) version, e.g. (15, "15.20")."""
        engine = self.engine()
        try:
            with engine.connect() as conn:
                number = int(conn.execute(text("SHOW server_version_num")).scalar())
                full = conn.execute(text("SHOW server_version")).scalar().split()[0]
        finally:
            engine.dispose()
        return number // 10000, full

    def libpq(self) -> tuple[list[str], dict[str, str]]:
        """Options and environment for pg_dump / pg_restore: host, port, user and database as options, the
        password in PGPASSWORD, since a command line is shown to every user of the machine by `ps`."""
        options, env = [], dict(os.environ)
        query = {key: value if isinstance(value, str) else value[-1] for key, value in self.url.query.items()}
        password = query.pop("password", self.url.password)
        if password is not None:
            env["PGPASSWORD"] = str(password)
        host = self.url.host or query.pop("host", None)
        if host:
            options += ["--host", host]
        if self.url.port:
            options += ["--port", str(self.url.port)]
        if self.url.username:
            options += ["--username", self.url.username]
        if not self.url.database:
            raise BackupError("The database URL names no database.")
        dbname = self.url.database
        if query:  # sslmode and the like: a connection string without the password
            dbname = " ".join(f"{key}={_conninfo_value(value)}"
                              for key, value in [("dbname", dbname), *sorted(query.items())])
        options += ["--dbname", dbname]
        return options, env


def _conninfo_value(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


# --- pg_dump and pg_restore -----------------------------------------------------------------------------------

def _client_program(name: str, major: int) -> tuple[str, int, str]:
    """(path, major, full version) of pg_dump or pg_restore of at least this major version. Debian keeps each
    version's programs in /usr/lib/postgresql/<major>/bin; the one on PATH is a wrapper that picks the newest
    installed, which is good enough when it is new enough."""
    install = (f"install PostgreSQL {major}'s client programs "
               f"(Debian: apt-get install postgresql-client-{major})")
    found = None
    for path in (f"/usr/lib/postgresql/{major}/bin/{name}", shutil.which(name)):
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            found = path
            break
    if found is None:
        raise BackupError(f"{name} was not found: {install}.")
    try:
        answer = subprocess.run([found, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise BackupError(f"{found} --version failed ({error}): {install}.") from None
    version = re.search(r"\(PostgreSQL\) (\d+)(\.\d+)?", answer)
    if version is None:
        raise BackupError(f"Cannot read the version of {found} ({answer.strip()!r}): {install}.")
    have = int(version.group(1))
    if have < major:
        raise BackupError(f"{found} is PostgreSQL {have}, older than the {major} it must work with: {install}.")
    return found, have, version.group(0).split()[-1]


def _pg_dump(database: Database, path: Path) -> dict:
    server_major, server_full = database.server_version()
    program, _, program_version = _client_program("pg_dump", server_major)
    options, env = database.libpq()
    result = subprocess.run([program, "--format=custom", "--no-password", "--file", str(path), *options],
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed (exit {result.returncode}): {result.stderr.strip()}")
    return {"database_server_version": server_full, "dump_program": f"pg_dump {program_version}"}


def _pg_restore(database: Database, path: Path, dump_program: str) -> None:
    server_major, _ = database.server_version()
    dumped_by = re.search(r"(\d+)", dump_program or "")
    needed = max(server_major, int(dumped_by.group(1)) if dumped_by else 0)
    program, _, _ = _client_program("pg_restore", needed)
    options, env = database.libpq()
    # Everything restored belongs to the user of the database URL: the original owners and the roles that
    # were granted rights may not exist on this server, and --exit-on-error would stop at the first of them.
    result = subprocess.run([program, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                             "--no-password", *options, str(path)], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed (exit {result.returncode}; it ran in one transaction, so the "
                          f"database is unchanged): {result.stderr.strip()}")


# --- SQLite ---------------------------------------------------------------------------------------------------

def _sqlite_copy(source: str, target: str) -> None:
    """Copy one SQLite database into another (created, or still empty) with SQLite's online backup API: a
    consistent copy while the portal runs, made in one step under a read lock."""
    import sqlite3
    if not Path(source).is_file():
        raise BackupError(f"The SQLite database {source} does not exist.")
    try:
        src = sqlite3.connect(f"file:{quote(str(Path(source).absolute()))}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as error:
        raise BackupError(f"Copying the SQLite database {source} to {target} failed: {error}") from None


# --- Files ----------------------------------------------------------------------------------------------------

def _sha256_of(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _copy_hashing(source: Path, target: Path) -> tuple[int, str]:
    """Copy a file to a new name (never over one), synced to disk; returns its size and SHA-256."""
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as src, open(target, "xb") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return size, digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stored_files(root: Path):
    """(path, relative POSIX path) of each stored file under root, in a stable order. Not a photo still being
    written (`.upload-*.tmp`, renamed into place when complete) nor what a restore left half-way."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(RESTORE_STAGING_PREFIX))
        for name in sorted(filenames):
            if name.startswith(".upload-") and name.endswith(".tmp"):
                continue
            path = Path(dirpath) / name
            if path.is_file():
                yield path, path.relative_to(root).as_posix()


def _human(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,} bytes" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024


# --- Backup ---------------------------------------------------------------------------------------------------

@dataclass
class BackupSummary:
    folder: Path
    database: str
    database_size: int
    file_count: int = 0
    file_bytes: int = 0
    vanished: int = 0
    upload_dir: Path | None = None
    upload_dir_missing: bool = False

    def lines(self) -> list[str]:
        files = f"files: {self.file_count} from {self.upload_dir} ({_human(self.file_bytes)})"
        if self.upload_dir_missing:
            files += " — the upload folder does not exist"
        if self.vanished:
            files += f"; {self.vanished} deleted while the backup ran, left out"
        return [f"database: {self.database} ({_human(self.database_size)})", files,
                f"backup written to {self.folder}: the database, {self.file_count} files and {MANIFEST} "
                f"({_human(self.database_size + self.file_bytes)} without the manifest)"]


def create_backup(folder, database_url: str, upload_dir, migrations=None) -> BackupSummary:
    """Back up the database and every stored file of upload_dir into folder, which must not exist yet (or be
    empty); `migrations` (the Alembic folder) gives the manifest the code's newest migration. Raises
    BackupError, leaving nothing behind, when anything fails."""
    folder, upload_dir = Path(folder).absolute(), Path(upload_dir)
    database = Database(database_url)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BackupError(f"{folder} already exists and is not empty: back up into a new folder.")
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Private (0700): the backup holds personal data and password hashes.
    partial = Path(tempfile.mkdtemp(prefix=f".partial-{folder.name}-", dir=folder.parent))
    try:
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION,
                    "created_at": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "portal_version": _portal_version(), "alembic_revision": database.alembic_revision(),
                    "alembic_head": _alembic_head(migrations), "database": database.kind,
                    "database_file": DATABASE_FILES[database.kind]}
        dump = partial / manifest["database_file"]
        if database.kind == "postgresql":
            manifest.update(_pg_dump(database, dump))
        else:
            _sqlite_copy(database.url.database, str(dump))
        size, digest = _sha256_of(dump)
        files = [{"path": dump.name, "size": size, "sha256": digest}]
        summary = BackupSummary(folder=folder, database=f"{database} → {dump.name}", database_size=size,
                                upload_dir=upload_dir, upload_dir_missing=not upload_dir.is_dir())
        for source, relative in _stored_files(upload_dir):
            target = partial / UPLOADS / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                size, digest = _copy_hashing(source, target)
            except FileNotFoundError:
                if source.exists():
                    raise
                summary.vanished += 1
                continue
            files.append({"path": f"{UPLOADS}/{relative}", "size": size, "sha256": digest})
            summary.file_count += 1
            summary.file_bytes += size
        manifest["files"] = files
        with open(partial / MANIFEST, "x", encoding="utf-8") as f:
            json.dump(manifest, f, ensure_ascii=False, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(partial)
        os.rename(partial, folder)  # replaces an empty folder too
        _fsync_dir(folder.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return summary


def _portal_version() -> str:
    try:
        return metadata.version("yishi-portal")
    except metadata.PackageNotFoundError:
        return "unknown"


def _alembic_head(migrations) -> str | None:
    """The newest migration in the migrations folder (None without one)."""
    from alembic.script import ScriptDirectory
    if migrations is None or not Path(migrations, "versions").is_dir():
        return None
    return ",".join(sorted(ScriptDirectory(str(migrations)).get_heads())) or None


# --- Restore --------------------------------------------------------------------------------------------------

@dataclass
class RestoreSummary:
    manifest: dict
    database: str = ""
    tables: int = 0
    file_count: int = 0
    file_bytes: int = 0
    verified_bytes: int = 0
    upload_dir: Path | None = None
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        m = self.manifest
        return [f"verified: {len(m['files'])} files, {_human(self.verified_bytes)} (backup of {m['created_at']}, "
                f"{m['database']}, portal {m.get('portal_version')}, revision {m.get('alembic_revision') or 'none'})",
                f"database: restored into {self.database} ({self.tables} tables)",
                f"files: {self.file_count} restored into {self.upload_dir} ({_human(self.file_bytes)}), "
                "checksums verified again", *self.notes]


def read_manifest(folder: Path) -> dict:
    """The backup's manifest, checked for shape: every path inside the backup, every checksum well formed."""
    path = folder / MANIFEST
    if not path.is_file():
        raise BackupError(f"{path} does not exist: {folder} is not a backup, or an incomplete one.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BackupError(f"{path} cannot be read: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not the manifest of a Yishi backup.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{path} has format version {manifest.get('format_version')!r}; this portal reads "
                          f"version {FORMAT_VERSION}.")
    if manifest.get("database") not in DATABASE_FILES or \
            manifest.get("database_file") != DATABASE_FILES[manifest["database"]]:
        raise BackupError(f"{path} names no database this portal can restore.")
    files = manifest.get("files")
    if not isinstance(files, list):
        raise BackupError(f"{path} lists no files.")
    seen = set()
    for entry in files:
        name = entry.get("path") if isinstance(entry, dict) else None
        parts = PurePosixPath(name).parts if isinstance(name, str) else ()
        inside = bool(parts) and not PurePosixPath(name).is_absolute() and ".." not in parts and "." not in parts \
            and (name == manifest["database_file"] or (parts[0] == UPLOADS and len(parts) > 1))
        if not inside or name in seen or not isinstance(entry.get("size"), int) or entry["size"] < 0 \
                or not SHA256.fullmatch(str(entry.get("sha256"))):
            raise BackupError(f"{path}: the entry {entry!r} is not valid.")
        seen.add(name)
    if manifest["database_file"] not in seen:
        raise BackupError(f"{path} does not list the database file {manifest['database_file']}.")
    return manifest


def verify_backup(folder: Path, manifest: dict) -> int:
    """Check every file against the manifest (present, same size, same SHA-256) and that the backup holds no
    file the manifest does not list; returns the bytes checked."""
    listed = {entry["path"]: entry for entry in manifest["files"]}
    for path, relative in _stored_files(folder):
        if relative != MANIFEST and relative not in listed:
            raise BackupError(f"Backup refused: {path} is not in the manifest.")
    total = 0
    for name, entry in listed.items():
        path = folder / name
        if not path.is_file():
            raise BackupError(f"Backup refused: {path} is missing (the backup is incomplete).")
        size, digest = _sha256_of(path)
        if size != entry["size"] or digest != entry["sha256"]:
            what = f"{size:,} bytes, the manifest says {entry['size']:,}" if size != entry["size"] else \
                "its SHA-256 is not the manifest's"
            raise BackupError(f"Backup refused: {path} differs from the manifest ({what}): it was damaged or changed.")
        total += size
    return total


def restore_backup(folder, database_url: str, upload_dir, migrations=None) -> RestoreSummary:
    """Restore the backup in folder into an empty database and an empty upload folder. Nothing is touched
    unless every file of the backup matches its manifest. With `migrations` (the Alembic folder), says when
    the restored database needs `flask db upgrade`."""
    folder, upload_dir = Path(folder).absolute(), Path(upload_dir).absolute()
    database = Database(database_url)
    manifest = read_manifest(folder)
    if manifest["database"] != database.kind:
        raise BackupError(f"This backup is of a {manifest['database']} database; the database to restore into "
                          f"is {database.kind}.")
    tables = database.table_names() if database.kind == "postgresql" or Path(database.url.database).exists() else []
    if tables:
        raise BackupError(f"Restore refused: {database} is not empty ({len(tables)} tables, e.g. {tables[0]}). "
                          "Restore into a new, empty database.")
    present = next(_stored_files(upload_dir), None) if upload_dir.is_dir() else None
    if present is not None:
        raise BackupError(f"Restore refused: the upload folder {upload_dir} is not empty (it holds {present[0]}). "
                          "Restore into an empty folder.")
    summary = RestoreSummary(manifest=manifest, database=str(database), upload_dir=upload_dir)
    summary.verified_bytes = verify_backup(folder, manifest)

    # The files go to a hidden folder inside the upload folder first (same disk: moving them is a rename), so
    # a failed copy or a failed database restore leaves both as they were.
    upload_dir.mkdir(parents=True, exist_ok=True)
    staging = upload_dir / f"{RESTORE_STAGING_PREFIX}{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        staged = []
        for entry in manifest["files"]:
            if entry["path"] == manifest["database_file"]:
                continue
            relative = entry["path"][len(UPLOADS) + 1:]
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            size, digest = _copy_hashing(folder / entry["path"], target)
            if size != entry["size"] or digest != entry["sha256"]:
                raise BackupError(f"Restore stopped: the copy of {folder / entry['path']} differs from the "
                                  "manifest (the disk or the backup changed while restoring).")
            os.chmod(target, 0o644)
            staged.append(relative)
            summary.file_bytes += size
        dump = folder / manifest["database_file"]
        if database.kind == "postgresql":
            _pg_restore(database, dump, manifest.get("dump_program"))
        else:
            _sqlite_copy(str(dump), database.url.database)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        for relative in staged:
            target = upload_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staging / relative, target)
    except OSError as error:
        raise BackupError(f"The database is restored, but moving the files from {staging} into {upload_dir} "
                          f"failed: {error}. Move the rest by hand.") from None
    shutil.rmtree(staging)
    summary.file_count = len(staged)
    summary.tables = len(database.table_names())
    head = _alembic_head(migrations)
    if manifest.get("alembic_revision") and head and manifest["alembic_revision"] != head:
        summary.notes.append(f"The database is at migration {manifest['alembic_revision']}; this portal's newest "
                             f"is {head}: run `flask --app portal db upgrade`.")
    return summary


# --- Commands (registered in portal/cli.py) -------------------------------------------------------------------

@click.command("backup")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def backup_command(folder):
    """Back up the database and the upload folder into FOLDER (new), with a manifest of SHA-256 checksums.

    Safe from cron: exits non-zero on any failure, and the backup appears under FOLDER only when complete."""
    from flask import current_app
    try:
        summary = create_backup(folder, current_app.config["SQLALCHEMY_DATABASE_URI"],
                                current_app.config["UPLOAD_DIR"], _migrations_dir(current_app))
    except (BackupError, OSError) as error:
        raise click.ClickException(str(error)) from None
    for line in summary.lines():
        click.echo(line)


@click.command("restore")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def restore_command(folder):
    """Restore the backup in FOLDER into an empty database (DATABASE_URL) and an empty upload folder.

    Every file is checked against the manifest first: a damaged or incomplete backup is refused untouched."""
    from flask import current_app
    try:
        summary = restore_backup(folder, current_app.config["SQLALCHEMY_DATABASE_URI"],
                                 current_app.config["UPLOAD_DIR"], _migrations_dir(current_app))
    except (BackupError, OSError) as error:
        raise click.ClickException(str(error)) from None
    for line in summary.lines():
        click.echo(line)


def _migrations_dir(app):
    migrate = app.extensions.get("migrate")
    return getattr(migrate, "directory", None)
