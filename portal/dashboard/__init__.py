"""The officials' dashboard: the three rates, overdue work, hotspots, charts and exports."""
import click
from flask import Blueprint

bp = Blueprint("dashboard", __name__)


@bp.record_once
def _keep_rollups(state):
    from portal.dashboard import rollups
    rollups.listen()


@bp.cli.command("rebuild-rollups")
def rebuild_rollups_command():
    """Recompute the dashboard's issue rollups from the issues (after a bulk load)."""
    from portal.dashboard.rollups import rebuild_rollups
    from portal.extensions import db
    counted = rebuild_rollups()
    db.session.commit()
    click.echo(f"{counted} issues counted")
