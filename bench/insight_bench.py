"""Reading by meaning (issue #22): how well the category suggestion and the similar issues work on residents'
own words, and how fast they answer at the size of a large community.

Run by hand, never by the test suite (see bench/README.md):

    .venv/bin/python bench/insight_bench.py                      # a throwaway SQLite file
    .venv/bin/python bench/insight_bench.py --database-url postgresql://postgres@127.0.0.1:5432/bench_words

It reads the evaluation data (tests/data/issue_texts.csv: residents' texts with their category, some marked
as duplicates of another) and prints
(a) the category suggestion's cross-validated top-1 and top-3 accuracy (stratified 5-fold; the learned model,
    and the default keywords alone for comparison),
(b) the similar-issue lookup on the duplicate pairs: every text is an open issue of one community; each text
    of a duplicate group asks for its five most similar others: hit@5 (a duplicate among them) and
    precision@5 (the share of those shown that are duplicates of it),
(c) then DROPS AND RECREATES every table of the database, fills one community with --issues open issues
    (residents' texts with a building or a detail varied, so the vocabulary is real), indexes them, fits the
    community's suggester, and times the suggestion and the similar-issue lookup for drafts being typed
    (median and p95), and keeping the index up to date as an issue is written,
(d) then DROPS AND RECREATES the tables again and fills one sub-district with --topic-issues issues in the last
    month (and as many in each of the five months before, for the trend), residents' texts varied, and times
    the month's topic grouping (portal.insight.topics.compute_topics: reading, words, TF-IDF, k-means with k
    chosen by silhouette, the six-month trend, storing; target under 30 s at 10,000), with the number of
    topics and their purity (the share of a topic's issues in its commonest category, weighted by size).

    .venv/bin/python bench/insight_bench.py --only-topics        # (d) alone"""
import argparse
import csv
import random
import statistics
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from _common import ROOT, Database, add_database_arguments, analyze, bulk, community_with_residents, percentile

from portal.extensions import db

DATA = ROOT / "tests" / "data" / "issue_texts.csv"
PLACES = ["{b}号楼", "{b}号楼{u}单元", "{b}栋", "小区东门", "南门口", "地下车库", "", "", ""]
TAILS = ["", "", "", "，麻烦尽快处理", "，都好几天了", "！！", "，谢谢", "，急", " 有人管吗", "，老人孩子多"]


def read_data(path: Path):
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    return [(int(r["id"]), r["category"], r["text"], int(r["duplicate_of"]) if r["duplicate_of"] else None)
            for r in rows]


def duplicate_groups(rows):
    """Each text's duplicates (the connected groups of the duplicate_of marks), for texts in a group."""
    parent = {i: i for i, *_rest in rows}

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    for i, _c, _t, dup in rows:
        if dup:
            parent[root(i)] = root(dup)
    groups = defaultdict(set)
    for i, *_rest in rows:
        groups[root(i)].add(i)
    return {i: g - {i} for g in groups.values() if len(g) > 1 for i in g}


def accuracy(rows, folds, seed):
    from sklearn.model_selection import StratifiedKFold

    from portal.issues.services.suggest import make_model
    texts = [t for _i, _c, t, _d in rows]
    labels = [c for _i, c, _t, _d in rows]
    top1 = top3 = 0
    fit_times = []
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, labels):
        start = time.perf_counter()
        model = make_model().fit([texts[i] for i in train], [labels[i] for i in train])
        fit_times.append(time.perf_counter() - start)
        for probabilities, i in zip(model.predict_proba([texts[i] for i in test]), test, strict=True):
            ranked = [model.classes_[j] for j in probabilities.argsort()[::-1][:3]]
            top1 += ranked[0] == labels[i]
            top3 += labels[i] in ranked
    return top1 / len(rows), top3 / len(rows), statistics.mean(fit_times)


def keyword_accuracy(rows):
    from types import SimpleNamespace

    from portal.issues.services.categories import DEFAULT_KEYWORDS
    from portal.issues.services.suggest import _by_keywords
    categories = [SimpleNamespace(id=n, code=code, keywords=words)
                  for n, (code, words) in enumerate(DEFAULT_KEYWORDS.items())]
    top1 = top3 = 0
    for _i, code, text, _d in rows:
        ranked = [c.code for c, _s in _by_keywords(categories, text)]
        top1 += bool(ranked) and ranked[0] == code
        top3 += code in ranked
    return top1 / len(rows), top3 / len(rows)


def base_world(n_users, now):
    from portal.issues.services import ensure_default_categories
    community, buildings, user_ids = community_with_residents(n_users, now)
    categories = {c.code: c for c in ensure_default_categories(community)}
    return community, buildings, user_ids, categories


def issue_rows(community, buildings, user_ids, categories, items, now, rng):
    from portal.issues.models import TITLE_MAX
    out = []
    for n, (code, title) in enumerate(items):
        submitted = now - timedelta(minutes=n)
        out.append({"community_id": community.id, "category_id": categories[code].id, "title": title[:TITLE_MAX],
                    "description": "", "building_id": rng.choice(buildings).id, "reporter_id": rng.choice(user_ids),
                    "source": "portal", "status": "submitted", "handling_org_id": None, "submitted_at": submitted,
                    "respond_by": submitted + timedelta(hours=24), "resolve_by": submitted + timedelta(days=7),
                    "respond_warned": 0, "resolve_warned": 0, "support_count": 0})
    return out


def similar_quality(database, rows, rng):
    """Every text an open issue of one community; each duplicate asks for its five most similar others."""
    from portal.clock import utcnow
    from portal.issues import similar
    from portal.issues.models import Issue
    groups = duplicate_groups(rows)
    with database.app.app_context():
        database.recreate()
        now = utcnow()
        community, buildings, user_ids, categories = base_world(50, now)
        bulk(Issue, issue_rows(community, buildings, user_ids, categories, [(c, t) for _i, c, t, _d in rows], now,
                               rng))
        ids = list(db.session.scalars(db.select(Issue.id).order_by(Issue.id)))
        by_row = {row[0]: issue_id for row, issue_id in zip(rows, ids, strict=True)}
        similar.rebuild_index(community.id)
        db.session.commit()
        hits = shown = relevant_shown = 0
        for row_id, text, _c in ((i, t, c) for i, c, t, _d in rows if i in groups):
            found = similar.scored_open_issues(community, text, limit=5, exclude_id=by_row[row_id])
            found_ids = {issue_id for issue_id, _s in found}
            wanted = {by_row[i] for i in groups[row_id]}
            hits += bool(found_ids & wanted)
            shown += len(found_ids)
            relevant_shown += len(found_ids & wanted)
        db.session.remove()
    n = len(groups)
    return n, hits / n, (relevant_shown / shown if shown else 0.0), shown / n


def vary(text, rng):
    b, u = rng.randint(1, 40), rng.randint(1, 6)
    return f"{rng.choice(PLACES).format(b=b, u=u)}{text}{rng.choice(TAILS)}"


def scale(database, rows, n_issues, n_queries, rng):
    """--issues open issues from the residents' texts varied; the suggestion and the lookup timed on drafts."""
    from portal.clock import utcnow
    from portal.issues import similar
    from portal.issues.models import Issue
    from portal.issues.services import suggest
    with database.app.app_context():
        database.recreate()
        now = utcnow()
        start = time.perf_counter()
        community, buildings, user_ids, categories = base_world(2000, now)
        items = [(c, vary(t, rng)) for c, t in ((row[1], row[2]) for row in rng.choices(rows, k=n_issues))]
        bulk(Issue, issue_rows(community, buildings, user_ids, categories, items, now, rng))
        db.session.commit()
        built = time.perf_counter() - start
        start = time.perf_counter()
        indexed = similar.rebuild_index(community.id)
        db.session.commit()
        index_time = time.perf_counter() - start
        analyze()
        start = time.perf_counter()
        model = suggest.train(community)
        db.session.commit()
        train_time = time.perf_counter() - start
        print(f"built {n_issues:,} open issues in {built:.1f} s; indexed {indexed:,} in {index_time:.1f} s; "
              f"suggester fitted on {model.examples:,} (newest) in {train_time:.1f} s, "
              f"{len(model.model or b'') / 1e6:.1f} MB, held-out top-1 {model.accuracy}")

        # Drafts as typed: prefixes of residents' texts (the htmx request fires as the text grows).
        drafts = []
        for _ in range(n_queries):
            text = vary(rng.choice(rows)[2], rng)
            drafts.append(text[:max(4, rng.randint(len(text) // 2, len(text)))])
        first = time.perf_counter()
        suggest.suggest(community, drafts[0])
        first = (time.perf_counter() - first) * 1000
        timings = {"suggest": [], "similar": [], "index": []}
        found = []
        for text in drafts:
            t0 = time.perf_counter()
            suggest.suggest(community, text)
            t1 = time.perf_counter()
            found.append(len(similar.similar_open_issues(community, text)))
            t2 = time.perf_counter()
            timings["suggest"].append((t1 - t0) * 1000)
            timings["similar"].append((t2 - t1) * 1000)
            db.session.rollback()
        issues = db.session.scalars(db.select(Issue).order_by(Issue.id.desc()).limit(100)).all()
        for issue in issues:
            issue.title = vary(rng.choice(rows)[2], rng)[:120]
            t0 = time.perf_counter()
            similar.index_issue(issue)
            db.session.flush()
            timings["index"].append((time.perf_counter() - t0) * 1000)
        db.session.rollback()
        db.session.remove()
    print(f"first suggestion of the process (loading the stored model): {first:.0f} ms; "
          f"similar: {statistics.mean(found):.1f} issues shown per draft, {sum(1 for n in found if n == 0)} none")
    return timings


def topic_grouping(database, rows, n_issues, rng):
    """(d): one month of `n_issues` issues (and five earlier months as large) grouped into topics, timed."""
    from collections import Counter

    from portal.clock import utcnow
    from portal.insight import topics
    from portal.insight.models import Topic, TopicIssue
    from portal.insight.services import month_start
    from portal.issues.models import Issue, IssueCategory
    with database.app.app_context():
        database.recreate()
        now = utcnow()
        community, buildings, user_ids, categories = base_world(500, now)
        month = topics.sub_district_month(community.sub_district, now) - 1
        for back in range(topics.TREND_MONTHS):
            start = month_start(month - back)
            at = now.replace(year=start.year, month=start.month, day=12, hour=4)
            items = [(c, vary(t, rng)) for c, t in ((row[1], row[2]) for row in rng.choices(rows, k=n_issues))]
            made = issue_rows(community, buildings, user_ids, categories, items, at + timedelta(days=5), rng)
            for n, row in enumerate(made):
                row["submitted_at"] = at + timedelta(seconds=n * 100)
            bulk(Issue, made)
        db.session.commit()
        analyze()
        started = time.perf_counter()
        run = topics.compute_topics(community.sub_district, month, now=now)
        db.session.commit()
        seconds = time.perf_counter() - started
        month_issues, made_topics = run.issues, run.topics
        codes = {c.id: c.code for c in db.session.scalars(db.select(IssueCategory))}
        purity = 0
        for topic in db.session.scalars(db.select(Topic)):
            found = Counter(codes[c] for c in db.session.scalars(
                db.select(Issue.category_id).join(TopicIssue, TopicIssue.issue_id == Issue.id)
                .where(TopicIssue.topic_id == topic.id)))
            purity += max(found.values())
        grouped = db.session.scalar(db.select(db.func.count()).select_from(TopicIssue))
        db.session.remove()
    print(f"topics of one month: {month_issues:,} issues (and {topics.TREND_MONTHS - 1} earlier months as large for "
          f"the trend) grouped into {made_topics} topics in {seconds:.1f} s (target < 30 s); "
          f"{grouped:,} issues in a topic, purity {purity / max(grouped, 1):.1%} (share in the topic's commonest "
          f"category)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser)
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--topic-issues", type=int, default=10_000)
    parser.add_argument("--only-topics", action="store_true", help="run (d), the topic grouping, alone")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    database = Database(parser, args)
    rows = read_data(args.data)

    from portal import words
    with database.app.app_context():
        words.words("电梯停运")
    print(f"jieba loaded in {words.first_call_seconds:.2f} s (first call of the process)")
    print(f"evaluation data: {len(rows)} texts, {len({c for _i, c, _t, _d in rows})} categories, "
          f"{sum(1 for r in rows if r[3])} marked as duplicates")

    if args.only_topics:
        topic_grouping(database, rows, args.topic_issues, rng)
        database.finish()
        return
    top1, top3, fit = accuracy(rows, args.folds, args.seed)
    k1, k3 = keyword_accuracy(rows)
    groups, hit5, precision5, shown = similar_quality(database, rows, rng)
    timings = scale(database, rows, args.issues, args.queries, rng)

    print()
    print(f"{'category suggestion, ' + str(args.folds) + '-fold cross-validated':<58} {'top-1':>7} {'top-3':>7}")
    print(f"{'  learned model (words + character n-grams, logistic)':<58} {top1:>7.1%} {top3:>7.1%}")
    print(f"{'  default keywords only (the fallback)':<58} {k1:>7.1%} {k3:>7.1%}")
    print(f"  (a fold's model fitted in {fit:.2f} s)")
    print()
    print(f"similar issues on {groups} texts with a marked duplicate: hit@5 {hit5:.1%}, precision@5 {precision5:.1%} "
          f"({shown:.1f} shown per text)")
    print()
    print(f"{'at ' + format(args.issues, ',') + ' open issues':<58} {'median ms':>10} {'p95 ms':>8}")
    for label, key in (("category suggestion of a draft", "suggest"), ("similar open issues of a draft", "similar"),
                       ("index_issue (an issue written, its words and counts)", "index")):
        values = timings[key]
        print(f"{'  ' + label:<58} {statistics.median(values):>10.1f} {percentile(values, 95):>8.1f}")
    print()
    topic_grouping(database, rows, args.topic_issues, rng)
    database.finish()


if __name__ == "__main__":
    main()
