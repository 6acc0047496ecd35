"""Chinese text matching for the content rules: normalisation with an index map back to the original,
lexicons and an Aho-Corasick matcher, PII/amount patterns with validators, and link classification.

Pure code, no IO beyond reading the shipped lexicon files (``services/rules/lexicons``).
"""

from services.rules.text.lexicon import Lexicon
from services.rules.text.links import LinkPolicy, classify, extract_links
from services.rules.text.matcher import Hit, Matcher
from services.rules.text.normalize import Normalized, normalize, normalize_text
from services.rules.text.patterns import PatternHit, find_amounts, find_pii

__all__ = ["Hit", "Lexicon", "LinkPolicy", "Matcher", "Normalized", "PatternHit", "classify", "extract_links",
           "find_amounts", "find_pii", "normalize", "normalize_text"]
