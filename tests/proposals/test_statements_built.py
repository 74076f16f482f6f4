"""The statements of the pages residents open daily are built once per process and run with bound parameters:
a second view of a community's page, an issue's page, a consultation (with each comment's likes and the
person's own) or the notification centre builds no SELECT. Building one with SQLAlchemy (its clause objects
and cache key) costs about half as much again as running it (bench/README, tenth session); counted here,
never timed."""
import traceback

import pytest
from sqlalchemy.sql.base import Generative
from sqlalchemy.sql.selectable import Select

from portal.extensions import db
from tests.proposals import gen_comment, gen_in_deliberation, gen_issue


class Built:
    """The SELECTs made while watching: new ones, and copies made by .where(), .options()…"""

    def __init__(self):
        self.watching, self.made = False, []

    def during(self, client, path):
        self.watching, self.made = True, []
        try:
            assert client.get(path).status_code == 200
        finally:
            self.watching = False
        return self.made


def _where() -> str:
    """The portal's line that made the statement."""
    ours = [f for f in traceback.extract_stack()[:-2] if "/portal/" in f.filename]
    return f"{ours[-1].filename.split('/portal/')[-1]}:{ours[-1].lineno}" if ours else "?"


@pytest.fixture
def built(monkeypatch):
    watch = Built()
    init, generate = Select.__init__, Generative._generate

    def counting_init(self, *args, **kwargs):
        if watch.watching:
            watch.made.append(f"new at {_where()}")
        init(self, *args, **kwargs)

    def counting_generate(self):
        if watch.watching and isinstance(self, Select):
            watch.made.append(f"copy at {_where()}")
        return generate(self)
    monkeypatch.setattr(Select, "__init__", counting_init)
    monkeypatch.setattr(Generative, "_generate", counting_generate)
    return watch


def test_a_later_view_of_a_daily_page_builds_no_statement(client, auth, world, built):
    from portal.issues import services
    proposal = gen_in_deliberation(world)
    first = gen_comment(world, proposal, author=world.supporters[0], body="Yes, please.")
    gen_comment(world, proposal, author=world.supporters[1], stance="against", body="Too dear.", parent=first)
    issue = gen_issue(world)
    services.accept_issue(world.property_x, issue)
    db.session.commit()
    auth.login(world.neighbour)
    client.post(f"/c/{world.x.slug}/proposals/{proposal.id}/comments/{first.id}/like",
                data={"action": "like"})  # a like of the person's own among the counts
    slug = world.x.slug
    for path in (f"/c/{slug}", f"/c/{slug}/issues/{issue.id}", f"/c/{slug}/proposals/{proposal.id}",
                 "/notifications/"):
        for _ in range(2):  # the first view builds what it needs, and makes the page's short link
            assert client.get(path).status_code == 200
        made = built.during(client, path)
        assert made == [], (path, made)


def test_the_count_sees_a_statement_built_per_view(client, auth, world, built):
    # The proposal list's search builds its terms' statement for each query: the watch sees it.
    auth.login(world.neighbour)
    path = f"/c/{world.x.slug}/proposals?q=电梯"
    assert client.get(path).status_code == 200
    assert built.during(client, path)
