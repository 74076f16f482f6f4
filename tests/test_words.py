"""portal.words (issue #22): Chinese split into words by jieba with the civic dictionary and the community's
own terms, English word matching, numbers, stop words and punctuation; jieba loaded once, quietly."""
import subprocess
import sys

from portal import words as words_module
from portal.words import CIVIC_TERMS, words


def test_civic_terms_stay_whole():
    assert "飞线充电" in words("楼下有人飞线充电，贼危险")
    assert "高空抛物" in words("俺家楼上又高空抛物了")
    assert "垃圾分类" in words("垃圾分类没人管啊")
    assert "电梯停运" in words("电梯停运了咋整")


def test_a_compound_also_yields_its_parts():
    assert {"电梯", "停运", "电梯停运"} <= set(words("电梯停运"))


def test_the_communitys_own_names_are_kept_whole():
    assert "阳光花园" not in words("阳光花园5栋漏水")
    found = words("阳光花园5栋漏水", ["阳光花园", "5栋"])
    assert found[:2] == ["阳光花园", "5栋"] and "漏水" in found


def test_stop_words_dialect_particles_and_punctuation_go():
    found = words("咋回事啊？？俺们这儿的路灯贼暗，啥时候修！！")
    assert not {"咋回事", "啊", "俺们", "贼", "啥", "？", "！", "，", "的"} & set(found)
    assert "路灯" in found


def test_english_is_lowercased_word_matching():
    assert words("The Lift in Building 3 is BROKEN, lifts again!") == ["lift", "building", "3", "broken", "lift"]


def test_numbers_are_kept_and_full_width_folded():
    assert words("３号楼 ＬＩＦＴ 0802室")[0] == "3"
    assert "802" in words("0802室")
    assert "lift" in words("３号楼 ＬＩＦＴ")


def test_empty_text_has_no_words():
    assert words("") == [] and words(None) == [] and words("！！！ ，。") == []


def test_every_civic_term_is_one_word():
    for term in CIVIC_TERMS:
        if not term.isdigit():
            assert term in words(term), term


def test_jieba_loads_once_quietly_with_its_cache_in_the_instance_folder(tmp_path):
    code = ("from flask import Flask\nfrom portal import words\n"
            f"app = Flask('portal', instance_path={str(tmp_path)!r})\n"
            "with app.app_context():\n"
            "    first = words.tokenizer(); words.words('电梯停运'); again = words.tokenizer()\n"
            "assert first is again and words.first_call_seconds > 0\n"
            "print(round(words.first_call_seconds, 2))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "prefix dict" not in done.stderr and "Loading model" not in done.stderr
    assert (tmp_path / "jieba.cache").exists()
    assert float(done.stdout.strip()) < 30


def test_the_tokenizer_is_made_once_per_process():
    assert words_module.tokenizer() is words_module.tokenizer()
