"""The directory of communities: a visitor finds their community (and its ways to take part) from the home page."""
from portal.extensions import db
from tests.factories import gen_community, gen_sub_district


def _world():
    east, west = gen_sub_district(name="East Gate"), gen_sub_district(name="West Lake")
    open_one = gen_community(sub_district=east, name="Plum Garden")
    gen_community(sub_district=west, name="Willow Court")
    gen_community(sub_district=west, name="Secret Yard", members_only=True)
    db.session.commit()
    return open_one


def test_the_visitors_home_links_to_the_directory_without_a_statement(client):
    body = client.get("/").get_data(as_text=True)
    assert 'href="/communities"' in body


def test_the_directory_lists_open_communities_by_sub_district_with_their_ways_to_take_part(client):
    plum = _world()
    response = client.get("/communities")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.index("East Gate") < body.index("Plum Garden") < body.index("West Lake") < body.index("Willow Court")
    assert "Secret Yard" not in body  # members-only communities are not listed
    assert f'href="/c/{plum.slug}/ballots"' in body and f'href="/c/{plum.slug}/notices"' in body


def test_the_directory_searches_names_and_keeps_the_typing(client):
    _world()
    body = client.get("/communities?q=willow").get_data(as_text=True)
    assert "Willow Court" in body and "Plum Garden" not in body and 'value="willow"' in body
    body = client.get("/communities?q=east").get_data(as_text=True)  # a sub-district's name finds its communities
    assert "Plum Garden" in body and "Willow Court" not in body
    body = client.get("/communities?q=%25").get_data(as_text=True)  # a wildcard is searched for, not obeyed
    assert "No community matches" in body


def test_odd_input_gives_a_page_not_an_error(client):
    _world()
    for query in ("/communities?q=%00willow", "/communities?page=99999999999999999999", "/communities?page=-3",
                  "/communities?page=abc", "/communities?q=" + "x" * 500):
        assert client.get(query).status_code == 200, query


def test_the_directory_pages_twenty_at_a_time(client):
    sub_district = gen_sub_district(name="Big")
    for n in range(25):
        gen_community(sub_district=sub_district, name=f"Estate {n:02d}")
    db.session.commit()
    first = client.get("/communities").get_data(as_text=True)
    second = client.get("/communities?page=2").get_data(as_text=True)
    assert "Estate 19" in first and "Estate 20" not in first and "Estate 20" in second and "Estate 24" in second
    assert "Page 1 of 2" in first
