"""Insight (issue #22, 未诉先办): forecasts of next month's issues per community × category, the expected
rises officials turn into proactive actions, grid workers' patrols and the proactive share."""
import click
from flask import Blueprint

bp = Blueprint("insight", __name__)


@bp.record_once
def _keep_month_counts(state):
    from portal.insight import rollup
    rollup.listen()


@bp.cli.command("rebuild-month-counts")
def rebuild_month_counts_command():
    """Recompute the monthly issue counts the forecasts read (after a bulk load)."""
    from portal.extensions import db
    from portal.insight.rollup import rebuild_month_counts
    counted = rebuild_month_counts()
    db.session.commit()
    click.echo(f"{counted} issues counted")
