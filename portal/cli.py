"""Commands: `flask --app portal seed-demo | create-admin | run-due | send-notifications | verify-ballot <id> |
backup <dir> | restore <dir> | vapid-keys | suggest-category <community> <text> | renew-versions`."""
import click
from flask import Flask

from portal.extensions import db


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(create_admin)
    app.cli.add_command(run_due_command)
    app.cli.add_command(send_notifications_command)
    app.cli.add_command(renew_versions_command)
    from portal.votes.services import verify_ballot_command
    app.cli.add_command(verify_ballot_command)
    from portal.issues.services.suggest import suggest_category_command
    app.cli.add_command(suggest_category_command)
    from portal.backup import backup_command, restore_command
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    from portal.notifications.push import vapid_keys_command
    app.cli.add_command(vapid_keys_command)


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has accounts.")
def seed_demo(if_empty):
    """Fill the database with a believable demo sub-district (idempotent)."""
    from portal.auth.models import User
    from portal.demo import seed
    if if_empty and db.session.scalar(db.select(User.id).limit(1)) is not None:
        click.echo("Database already has data; demo not seeded.")
        return
    summary = seed()
    db.session.commit()
    for line in summary:
        click.echo(line)


@click.command("create-admin")
@click.option("--login", "login", required=True, help="E-mail address or mainland mobile number.")
@click.option("--name", "display_name", required=True)
@click.password_option()
def create_admin(login, display_name, password):
    """Create a platform administrator account."""
    from portal.auth import services
    from portal.errors import DomainError
    login = services.normalize_login(login)
    kwargs = {"phone": login} if services.is_phone(login) else {"email": login}
    try:
        user = services.create_user(display_name=display_name, password=password, is_admin=True, **kwargs)
    except DomainError as error:
        raise click.ClickException(str(error.message)) from None
    db.session.commit()
    click.echo(f"Admin {user.display_name} created (account {user.id}).")


@click.command("run-due")
def run_due_command():
    """Apply every time-driven step whose time has come (idempotent; run from cron every minute, on every
    server: a step another server is running or has just run is reported as skipped)."""
    from portal.due import run_due
    for name, count in run_due().items():
        click.echo(f"{name}: {count}")


@click.command("send-notifications")
def send_notifications_command():
    """Send the e-mail notifications and daily digests that are due, once (cron; `run-due` does it too)."""
    from portal.notifications.sender import drain_alone
    result = drain_alone()
    if result is None:
        click.echo("skipped: another sender is draining the outbox")
        return
    for line in result.lines():
        click.echo(line)
    from portal.notifications.push import drain_push
    for line in drain_push().lines():
        click.echo(line)


@click.command("renew-versions")
def renew_versions_command():
    """After changing the database by hand (psql): every community's pages are read afresh on every server
    (portal.versions); the portal's own changes need nothing."""
    from portal import versions
    versions.renew_all()
    db.session.commit()
    click.echo("Every community's version renewed.")
