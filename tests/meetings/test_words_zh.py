"""Chinese pages use the word each sense needs where English has one word for two (message contexts):
a meeting's place is 地点, ballots are 表决 while the secrecy row of a ballot reads 投票方式, an ownership row's
current holding is 当前, and an open proposal is 进行中 (未办结 is for issues). Uses the votes world."""
from portal.extensions import db
from tests.committees.meetings_helpers import gen_meeting
from tests.votes import gen_ballot

ZH = {"Accept-Language": "zh-CN"}


def test_a_meeting_page_in_chinese_calls_its_place_didian(client, world):
    meeting = gen_meeting(world, title="业委会例会", place="社区活动室")
    db.session.commit()
    page = client.get(f"/o/{meeting.organization_id}/meetings/{meeting.id}", headers=ZH).get_data(as_text=True)
    assert "<dt>地点</dt><dd>社区活动室</dd>" in page
    assert "<dt>区域</dt>" not in page


def test_ballots_are_biaojue_and_a_ballots_secrecy_row_is_toupiao_fangshi(client, world):
    ballot = gen_ballot(world, "committee")
    db.session.commit()
    page = client.get(f"/c/{ballot.community.slug}/ballots/{ballot.id}", headers=ZH).get_data(as_text=True)
    assert "<dt>投票方式</dt>" in page
    organization = client.get(f"/o/{ballot.organization_id}", headers=ZH).get_data(as_text=True)
    assert 'id="ballots-heading">表决</h2>' in organization
    assert "投票方式" not in organization


def test_the_current_owner_of_a_household_is_dangqian(client, auth, world):
    auth.login(world.hoa_chair)
    page = client.get(f"/c/{world.x.slug}/households/{world.hx.id}", headers=ZH).get_data(as_text=True)
    assert '<span class="status status-ok">当前</span>' in page
    assert "现任" not in page


def test_the_proposal_filter_offers_jinxingzhong_for_open_proposals(client, world):
    page = client.get(f"/c/{world.x.slug}/proposals", headers=ZH).get_data(as_text=True)
    assert '<option value="open">进行中</option>' in page
    assert "未办结" not in page and "未关闭" not in page
