"""The scam shield: text a casting-side user writes to talent, checked against the rules in `rules.json`.

Each sentence is judged on its own, so "no registration fee" in one sentence cannot excuse "pay the
deposit" in the next. The rules are data: extend `rules.json` (with examples) to catch a new scam.
"""
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

RULES_FILE = Path(__file__).with_name("rules.json")
# A sentence ends after ! ? । . or a line break, but not at the stop of `Rs.` or `No.` (`Rs. 2000`, `No. 4`)
# nor in a number (`1.5 lakh`).
_SENTENCE_END = re.compile(r"(?<=[!?।\n])\s*|(?<=\.)(?<![Rr][Ss]\.)(?<![Nn][Oo]\.)(?!\d)\s*")


@dataclass(frozen=True)
class Rule:
    id: str
    family: str
    reason: str
    patterns: tuple
    unless: tuple

    def matches(self, sentence):
        return any(p.search(sentence) for p in self.patterns) and not any(p.search(sentence) for p in self.unless)


@dataclass(frozen=True)
class Rulebook:
    rules: tuple
    advice: dict


def _compile(patterns):
    return tuple(re.compile(pattern, re.IGNORECASE) for pattern in patterns)


@lru_cache(maxsize=4)
def rulebook(path=RULES_FILE):
    """The rules in `path`, compiled once."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    rules = tuple(Rule(rule["id"], rule["family"], rule["reason"], _compile(rule["patterns"]),
                       _compile(rule.get("unless", []))) for rule in data["rules"])
    return Rulebook(rules, data["advice"])


def matching_rules(text, book=None):
    """The rules that some sentence of `text` breaks, in rule order."""
    book = book or rulebook()
    sentences = [sentence for sentence in _SENTENCE_END.split(text or "") if sentence.strip()]
    return [rule for rule in book.rules if any(rule.matches(sentence) for sentence in sentences)]


def verdict(*texts):
    """`{flagged, reasons, rules, advice}` for texts that break a rule, else None."""
    book = rulebook()
    broken = {rule.id: rule for text in texts for rule in matching_rules(text, book)}
    if not broken:
        return None
    families = list(dict.fromkeys(rule.family for rule in broken.values()))
    return {"flagged": True, "reasons": [rule.reason for rule in broken.values()], "rules": list(broken),
            "advice": " ".join(book.advice[family] for family in families)}
