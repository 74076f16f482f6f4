"""Text read as words (issue #22): the one segmentation behind similar issues, search in issues and
proposals, and category suggestion.

Chinese is written without spaces, so it is split into words by jieba with a user dictionary: the civic
terms below (飞线充电, 高空抛物 …, which jieba's own dictionary would cut in two) plus the community's own
terms passed in (building and estate names), which are kept whole wherever they occur. English (and other
Latin script) keeps word matching: lower-cased words, a plural -s dropped. Runs of digits are terms of
their own ("3号楼" → 3, 号楼), full-width forms folded first. Stop words, particles and punctuation go.

jieba loads its dictionary (a few hundred thousand words) on first use: here once per process, lazily, under a
lock, with its log quiet and its prepared cache kept in the instance folder (or the system's temporary folder
outside an app), so only the first call of a process pays (about a second without the cache, a fraction
with it; `first_call_seconds` says what it cost)."""
import logging
import os
import re
import tempfile
import threading
import time
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

TERM_MAX = 32  # a term is cut to the width of its index column
TEXT_MAX = 2000  # what is read of a text; anything longer is cut, not refused

# Civic words jieba's own dictionary does not hold whole. Admins' category keywords and the community's
# building and estate names come on top (extra_terms).
CIVIC_TERMS = (
    "飞线充电", "高空抛物", "垃圾分类", "电梯停运", "电梯困人", "电梯异响", "楼道堆物", "占道经营", "噪音扰民",
    "违章搭建", "违建", "私搭乱建", "群租", "群租房", "化粪池", "下水道", "化粪池满溢", "污水外溢", "外墙脱落",
    "外墙渗水", "屋顶漏水", "楼顶漏水", "消防通道", "消防栓", "灭火器", "电动车", "电瓶车", "充电桩", "路灯不亮",
    "井盖", "窨井盖", "停车位", "乱停车", "僵尸车", "地库", "垃圾桶", "垃圾房", "垃圾清运", "装修噪音", "广场舞",
    "流浪狗", "流浪猫", "遛狗不牵绳", "狗屎", "绿化带", "物业费", "维修基金", "维修资金", "业委会", "居委会",
    "网格员", "停水", "停电", "水压低", "暖气不热", "燃气泄漏", "煤气味", "水管爆裂", "漏水", "渗水", "积水",
    "门禁", "单元门", "监控探头", "快递柜", "健身器材", "老年食堂", "适老化", "加装电梯", "12345",
)

STOP_WORDS = frozenset("""
    a an and are as at be been but by can could did do does for from had has have he her his how i if in into
    is it its me my no not of on or our please she so still than that the their them then there these they
    this to too us very was we were what when where which who why will with would you your again also just
    got get ve ll re don im it's there's any some all
""".split()) | frozenset("""
    的 了 着 过 吗 呢 吧 啊 呀 哦 嗯 哈 啦 嘛 哎 唉 喂 么 罢 咯 呐 哇 呗 噢
    是 在 和 与 及 或 而 并 就 都 也 还 又 再 才 很 太 挺 真 好 贼 老 可 把 被 给 让 叫 从 向 对 跟 比
    我 你 他 她 它 咱 俺 您 我们 你们 他们 她们 咱们 俺们 大家 自己 人家
    这 那 这个 那个 这些 那些 这里 那里 这儿 那儿 这边 那边 哪 哪里 哪儿
    什么 啥 怎么 咋 咋整 咋回事 怎么办 怎样 为什么 为啥 干啥 多少
    一个 一下 一直 一点 有点 有些 有人 没有 没 不 别 要 会 能 想 得 地 去 来 说 让 有 等 个 些 下 上
    已经 现在 还是 但是 可是 因为 所以 如果 然后 而且 或者 就是 真是 还有 以及 可以 应该 非常 特别 每次
    谢谢 麻烦 请 请问 您好 你好 拜托 赶紧 尽快 快点 希望 一下子 整天 天天 总是 老是 经常 好几 几次
""".split())

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
TOKEN = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<digits>[0-9]+)|(?P<word>[a-z\u00c0-\u024f]+(?:'[a-z]+)?)")

log = logging.getLogger(__name__)
_lock = threading.Lock()
_tokenizer = None
first_call_seconds: float | None = None  # what loading jieba cost this process (None: not loaded yet)


def _cache_dir() -> str:
    try:
        from flask import current_app, has_app_context
        if has_app_context():
            os.makedirs(current_app.instance_path, exist_ok=True)
            return current_app.instance_path
    except (ImportError, OSError):
        pass
    return tempfile.gettempdir()


def tokenizer():
    """jieba's tokenizer, loaded on first use with the civic terms, once per process."""
    global _tokenizer, first_call_seconds
    if _tokenizer is not None:
        return _tokenizer
    with _lock:
        if _tokenizer is None:
            started = time.perf_counter()
            import jieba
            # jieba sets its logger to DEBUG on import and says "Building prefix dict…" on stderr.
            logging.getLogger("jieba").setLevel(logging.WARNING)
            made = jieba.Tokenizer()
            made.tmp_dir = _cache_dir()
            made.cache_file = "jieba.cache"
            made.initialize()
            for term in CIVIC_TERMS:
                made.add_word(term, freq=20000)
            first_call_seconds = time.perf_counter() - started
            log.info("jieba loaded in %.2f s", first_call_seconds)
            _tokenizer = made
    return _tokenizer


@lru_cache(maxsize=64)
def _whole_terms(extra: tuple[str, ...]) -> re.Pattern | None:
    """A pattern finding the extra terms (longest first) so they are kept whole."""
    kept = sorted({_fold(t).strip() for t in extra if t and _fold(t).strip()}, key=len, reverse=True)
    if not kept:
        return None
    return re.compile("|".join(re.escape(t) for t in kept))


def _fold(text: str) -> str:
    # NFKC folds full-width letters and digits (Ｂ３, ３号楼) into plain ones.
    return unicodedata.normalize("NFKC", text).lower()


def _latin(word: str) -> str | None:
    word = word.replace("'", "")
    if len(word) < 2 or word in STOP_WORDS:
        return None
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]  # lifts → lift, leaks → leak
    return word[:TERM_MAX]


def _segment(text: str, out: list[str]) -> None:
    for match in TOKEN.finditer(text):
        if run := match.group("cjk"):
            # The search mode also yields the words inside a long one (电梯停运 → 电梯, 停运, 电梯停运), so a
            # compound matches its parts; without HMM an unknown run falls into single characters rather
            # than being glued into made-up words (又坏了 → 又, 坏, 了).
            for piece in tokenizer().cut_for_search(run, HMM=False):
                if piece not in STOP_WORDS:
                    out.append(piece[:TERM_MAX])
        elif digits := match.group("digits"):
            out.append(digits.lstrip("0")[:TERM_MAX] or "0")
        elif (word := _latin(match.group("word"))) is not None:
            out.append(word)


def words(text: str | None, extra_terms: Iterable[str] = ()) -> list[str]:
    """The words of `text`, in order, repeats kept (a caller wanting a set makes one): Chinese split by
    jieba with the civic dictionary and `extra_terms` (the community's building and estate names) kept
    whole; Latin words lower-cased; digit runs as terms; stop words and punctuation dropped."""
    if not text:
        return []
    text = _fold(text[:TEXT_MAX])
    out: list[str] = []
    pattern = _whole_terms(tuple(extra_terms)) if extra_terms else None
    if pattern is None:
        _segment(text, out)
        return out
    at = 0
    for match in pattern.finditer(text):
        _segment(text[at:match.start()], out)
        out.append(match.group()[:TERM_MAX])
        at = match.end()
    _segment(text[at:], out)
    return out
