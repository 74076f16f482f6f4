"""Category suggestion (issue #22): while a resident types, the three likeliest categories of the problem,
learned from the community's own categorized issues.

The model is a linear one (logistic regression, fitted by SGD) on two kinds of features: the text's words (portal.words,
jieba) and its character n-grams (1–3, which survive typos and words jieba does not know), both TF-IDF
weighted. It is fitted per community from its issues' titles and descriptions (the newest TRAIN_MAX,
rejected ones left out) and stored in `category_model` as joblib bytes with the figures of its training.
A community with fewer than MIN_CATEGORIES categories holding MIN_EXAMPLES issues each has nothing to learn
from yet: the suggestion then counts the categories' keywords (which admins edit) found in the text.

It is trained again by the run-due step `issues_category_models`: each night (after RETRAIN_AFTER, in the
community's night hours), and on the next run when it is stale — a handler re-categorized an issue
(`recategorize_issue` in categories.py marks it). The stored bytes are only ever written by this module;
loading them is cached per process by (row, training time), so a suggestion while typing costs one small
query and a prediction."""
from __future__ import annotations

import io
import re
import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import click
from sqlalchemy import select

from portal.clock import in_zone, utcnow
from portal.due import due_step
from portal.extensions import db
from portal.issues.models import CategoryModel, Issue, IssueCategory
from portal.words import words

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from portal.places.models import Community

MIN_EXAMPLES = 8  # categorized issues a category needs before the model learns it
MIN_CATEGORIES = 2  # categories with MIN_EXAMPLES before a model is fitted at all
TRAIN_MAX = 20_000  # the newest issues of a community learned from
HELD_OUT_FROM = 50  # examples needed before a fifth is held out to measure the accuracy
RETRAIN_AFTER = timedelta(hours=20)
NIGHT_HOURS = range(1, 6)  # the community's local hours in which the nightly training runs
SUGGESTED = 3
TEXT_MAX = 2000
KEYWORD_SPLIT = re.compile(r"[,，、;；\s]+")

_loaded: dict[tuple[int, int, datetime], object] = {}
_loaded_lock = threading.Lock()


def issue_words(text: str) -> list[str]:
    """The word features of a text (module level, so a stored model can find it again when loaded)."""
    return words(text)


def make_model() -> Pipeline:
    """A fresh, unfitted pipeline: word and character n-gram TF-IDF features into a logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import FeatureUnion, make_pipeline
    features = FeatureUnion([
        ("words", TfidfVectorizer(analyzer=issue_words, sublinear_tf=True)),
        ("chars", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)),
    ])
    # Logistic regression (log loss) fitted by stochastic gradient descent: as accurate here as the exact
    # solvers and several times faster to fit, which matters at tens of thousands of issues.
    return make_pipeline(features, SGDClassifier(loss="log_loss", alpha=1e-4, max_iter=100, tol=1e-4,
                                                 random_state=0))


def issue_text(title: str | None, description: str | None) -> str:
    return f"{title or ''}\n{description or ''}"[:TEXT_MAX]


def training_examples(community_id: int) -> list[tuple[str, str]]:
    """(text, category code) of the community's newest issues in active categories, rejected ones out."""
    rows = db.session.execute(
        select(Issue.title, Issue.description, IssueCategory.code)
        .join(IssueCategory, IssueCategory.id == Issue.category_id)
        .where(Issue.community_id == community_id, IssueCategory.is_active.is_(True), Issue.status != "rejected")
        .order_by(Issue.id.desc()).limit(TRAIN_MAX)).all()
    return [(issue_text(title, description), code) for title, description, code in rows]


def learnable(labels: list[str]) -> set[str]:
    """The codes with enough examples to learn; empty when fewer than MIN_CATEGORIES have them."""
    enough = {code for code, n in Counter(labels).items() if n >= MIN_EXAMPLES}
    return enough if len(enough) >= MIN_CATEGORIES else set()


def _top1(model, texts, labels) -> float:
    predicted = model.predict(texts)
    return sum(p == y for p, y in zip(predicted, labels, strict=True)) / len(labels)


def train(community: Community, *, now: datetime | None = None) -> CategoryModel:
    """Fit (or, with too few examples, give up to keywords) the community's suggester and store it."""
    import joblib
    now = now or utcnow()
    examples = training_examples(community.id)
    codes = learnable([code for _text, code in examples])
    row = db.session.scalar(select(CategoryModel).where(CategoryModel.community_id == community.id))
    if row is None:
        row = CategoryModel(community_id=community.id)
        db.session.add(row)
    kept = [(text, code) for text, code in examples if code in codes]
    row.examples, row.categories, row.trained_at, row.stale = len(kept), len(codes), now, False
    if not codes:
        row.method, row.model, row.accuracy = "keywords", None, None
        db.session.flush()
        return row
    texts, labels = [t for t, _c in kept], [c for _t, c in kept]
    row.accuracy = None
    if len(kept) >= HELD_OUT_FROM:
        # Every fifth example held out (the newest first, so spread over time) measures the accuracy.
        train_part = [i for i in range(len(kept)) if i % 5]
        if len({labels[i] for i in train_part}) >= MIN_CATEGORIES:
            trial = make_model().fit([texts[i] for i in train_part], [labels[i] for i in train_part])
            held = [i for i in range(len(kept)) if not i % 5]
            row.accuracy = round(_top1(trial, [texts[i] for i in held], [labels[i] for i in held]), 4)
    model = make_model().fit(texts, labels)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    row.method, row.model = "model", buffer.getvalue()
    db.session.flush()
    return row


def _model_of(row_id: int, community_id: int, trained_at: datetime):
    key = (community_id, row_id, trained_at)
    model = _loaded.get(key)
    if model is not None:
        return model
    import joblib
    data = db.session.scalar(select(CategoryModel.model).where(CategoryModel.id == row_id))
    if not data:
        return None
    model = joblib.load(io.BytesIO(data))
    with _loaded_lock:
        for old in [k for k in _loaded if k[0] == community_id]:
            del _loaded[old]
        _loaded[key] = model
    return model


def keywords_of(category: IssueCategory) -> list[str]:
    return [k for k in KEYWORD_SPLIT.split((category.keywords or "").lower()) if k]


def _by_keywords(categories: list[IssueCategory], text: str) -> list[tuple[IssueCategory, float]]:
    folded = text.lower()
    found = set(words(text))
    scores = []
    for category in categories:
        # A longer keyword is a more particular one: 飞线充电 says more than 电线.
        hits = sum(min(len(k), 4) for k in keywords_of(category) if k in found or k in folded)
        if hits:
            scores.append((category, float(hits)))
    total = sum(s for _c, s in scores)
    scores.sort(key=lambda cs: (-cs[1], cs[0].id))
    return [(c, round(s / total, 3)) for c, s in scores[:SUGGESTED]]


def suggest(community: Community, text: str | None, categories: list[IssueCategory] | None = None,
            ) -> list[tuple[IssueCategory, float]]:
    """The three likeliest active categories for `text`, best first, each with its score (0–1): the
    community's model when it has one, else its categories' keywords. Nothing for an empty text."""
    text = (text or "")[:TEXT_MAX]
    if not words(text):
        return []
    if categories is None:
        categories = db.session.scalars(
            select(IssueCategory).where(IssueCategory.community_id == community.id,
                                        IssueCategory.is_active.is_(True)).order_by(IssueCategory.id)).all()
    row = db.session.execute(select(CategoryModel.id, CategoryModel.method, CategoryModel.trained_at)
                             .where(CategoryModel.community_id == community.id)).first()
    if row is not None and row.method == "model":
        try:
            model = _model_of(row.id, community.id, row.trained_at)
        except Exception:  # noqa: BLE001 — bytes from another library version: keywords until retrained
            model = None
        if model is not None:
            by_code = {c.code: c for c in categories}
            probabilities = model.predict_proba([text])[0]
            ranked = sorted(zip(model.classes_, probabilities, strict=True), key=lambda cp: (-cp[1], cp[0]))
            found = [(by_code[code], round(float(p), 3)) for code, p in ranked if code in by_code]
            if found:
                return found[:SUGGESTED]
    return _by_keywords(categories, text)


def suggest_codes(community: Community, text: str) -> list[tuple[str, float]]:
    """(code, score) of the suggestion, for the shell."""
    return [(c.code, s) for c, s in suggest(community, text)]


def mark_stale(community_id: int) -> None:
    """A handler changed what an issue is: train again on the next run-due."""
    row = db.session.scalar(select(CategoryModel).where(CategoryModel.community_id == community_id))
    if row is None:
        row = CategoryModel(community_id=community_id, method="keywords", trained_at=utcnow())
        db.session.add(row)
    row.stale = True
    db.session.flush()


def _due(row: CategoryModel | None, zone: str, now: datetime) -> bool:
    if row is None or row.stale:
        return True
    return row.trained_at <= now - RETRAIN_AFTER and in_zone(now, zone).hour in NIGHT_HOURS


@due_step("issues_category_models")
def retrain_due(now: datetime) -> int:
    """Train the suggester of each community whose model is missing, stale, or a day old at night."""
    from portal.places.models import Community
    rows = {r.community_id: r for r in db.session.scalars(select(CategoryModel))}
    having_issues = set(db.session.scalars(select(Issue.community_id).distinct()))
    changed = 0
    for community in db.session.scalars(select(Community).where(Community.id.in_(having_issues))
                                        .order_by(Community.id)):
        if _due(rows.get(community.id), community.time_zone, now):
            train(community, now=now)
            changed += 1
    return changed


@click.command("suggest-category")
@click.argument("community")
@click.argument("text")
def suggest_category_command(community: str, text: str) -> None:
    """Print the three likeliest category codes for TEXT in COMMUNITY (its slug or number), with scores."""
    from portal.places.models import Community
    found = db.session.scalar(select(Community).where(Community.slug == community))
    if found is None and community.isdigit():
        found = db.session.get(Community, int(community))
    if found is None:
        raise click.ClickException(f"No community {community!r}.")
    row = db.session.scalar(select(CategoryModel).where(CategoryModel.community_id == found.id))
    method = row.method if row is not None else "keywords"
    click.echo(f"{found.slug} ({method})")
    for code, score in suggest_codes(found, text):
        click.echo(f"{code}\t{score:.3f}")
