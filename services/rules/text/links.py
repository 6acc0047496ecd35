"""Links in chat text: extraction and classification against deny, allow and shortener lists.

Chat spam rarely writes a clean ``https://`` URL: it writes bare domains ("xx.com", "t.cn/abc"),
punycode or homoglyph domains that look like the company's own ("weixln.qq.com", "wеixin.qq.com"
with a Cyrillic е). :func:`extract_links` finds all of these with spans in the original text;
:func:`classify` says, for one host, whether it is denied, allowed, a look-alike of an allowed
domain, a URL shortener (destination unknown) or an IP address. No DNS, no HTTP: pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

#: Public URL shorteners: the destination is hidden, so a rule may want a human to look.
SHORTENERS = frozenset({"t.cn", "dwz.cn", "url.cn", "suo.im", "bit.ly", "tinyurl.com", "t.co", "goo.gl",
                        "is.gd", "ow.ly", "rebrand.ly", "cutt.ly", "s.id", "w.url.cn", "u.nu", "mrw.so",
                        "sohu.gg", "v.gd", "rb.gy", "shorturl.at"})
_TLDS = ("com|cn|net|org|cc|top|xyz|vip|info|io|me|co|tk|ly|im|gg|so|at|id|app|site|online|club|shop|"
         "live|fun|ink|wang|ren|link|pro|biz|tv|hk|tw|mo|us|uk|jp|kr|ru|de|gov|edu|mobi|asia|work|"
         "tech|store|cloud|icu|cyou|xin|gd|nu")
_LABEL = r"[a-z0-9\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff](?:[a-z0-9\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff-]{0,61}[a-z0-9\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff])?"
_PATH = r"(?::\d{1,5})?(?:[/?#][^\s\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\u4e00-\u9fff<>\"'）】」]*)?"
_URL = re.compile(
    rf"(?P<scheme>https?://)(?P<host>[^\s/?#:<>\"'\u3000-\u303f\uff01-\uff0f\u4e00-\u9fff]+){_PATH}"
    rf"|(?<![A-Za-z0-9.@/-])(?P<bare>(?:{_LABEL}\.)+(?:{_TLDS}))(?![a-z0-9-]){_PATH}",
    re.IGNORECASE)
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_RISKY_FILES = re.compile(r"\.(apk|exe|bat|scr|msi|vbs|jar|cmd)(?:$|[?#])", re.IGNORECASE)
# Characters people (and phishers) confuse with ASCII letters, after NFKC and lower-casing.
_HOMOGLYPHS = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y", "і": "i", "ј": "j", "ԁ": "d",
    "ѕ": "s", "һ": "h", "ԛ": "q", "ԝ": "w", "ο": "o", "α": "a", "ν": "v", "ρ": "p", "τ": "t", "ι": "i",
    "κ": "k", "ε": "e", "ӏ": "l", "ɡ": "g", "ı": "i", "0": "o", "1": "l",
})

Verdict = Literal["denied", "lookalike", "shortener", "ip", "risky_file", "allowed", "unknown"]


@dataclass(frozen=True, slots=True)
class Link:
    """A link found in text: ``url`` as written, ``host`` lower-case Unicode (punycode decoded)."""

    url: str
    host: str
    start: int
    end: int


@dataclass(frozen=True)
class LinkPolicy:
    """Domain lists of a pack: a host matches a listed domain itself or any subdomain of it."""

    deny: frozenset[str] = frozenset()
    allow: frozenset[str] = frozenset()
    shorteners: frozenset[str] = SHORTENERS
    deny_patterns: tuple[re.Pattern[str], ...] = field(default=())

    @classmethod
    def of(cls, deny: Iterable[str] = (), allow: Iterable[str] = (), shorteners: Iterable[str] | None = None,
           deny_patterns: Iterable[str] = ()) -> LinkPolicy:
        return cls(frozenset(_host(d) for d in deny), frozenset(_host(a) for a in allow),
                   SHORTENERS if shorteners is None else frozenset(_host(s) for s in shorteners),
                   tuple(re.compile(p, re.IGNORECASE) for p in deny_patterns))


@dataclass(frozen=True, slots=True)
class LinkVerdict:
    link: Link
    verdict: Verdict
    reason: str
    like: str | None = None


def _host(raw: str) -> str:
    """Lower-case Unicode host: punycode labels decoded, trailing dot and port removed."""
    host = raw.strip().lower().rstrip(".").split(":", 1)[0]
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except UnicodeError:
                pass
        labels.append(label)
    return ".".join(labels)


def extract_links(text: str) -> list[Link]:
    """URLs with a scheme and bare domains (known TLDs only, so "v1.2" is not a link)."""
    if not text or "." not in text:
        return []
    links = []
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(".,;:!?")
        host = m.group("host") or m.group("bare")
        links.append(Link(url, _host(host.split("@")[-1]), m.start(), m.start() + len(url)))
    return links


def _under(host: str, domains: Iterable[str]) -> str | None:
    for d in domains:
        if host == d or host.endswith("." + d):
            return d
    return None


def _within_one_edit(a: str, b: str) -> bool:
    """Levenshtein distance of exactly one (substitution, insertion or deletion)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + (len(a) == len(b)):] == b[i + 1:]


def lookalike_of(host: str, allowed: Iterable[str]) -> str | None:
    """The allowed domain ``host`` imitates, if any: same skeleton, one edit away, or embedding it."""
    skeleton = host.translate(_HOMOGLYPHS)
    for domain in allowed:
        if host == domain or host.endswith("." + domain):
            return None
    for domain in allowed:
        tail = ".".join(skeleton.split(".")[-domain.count(".") - 1:])
        if tail == domain or skeleton.endswith("." + domain) or (
                len(domain) >= 8 and _within_one_edit(tail, domain)):
            return domain
        if f"{domain}." in host or f"{domain}-" in host:  # qq.com.login-check.cn
            return domain
    return None


def classify(link: Link, policy: LinkPolicy) -> LinkVerdict:
    """The verdict for one link; deny beats allow beats the warning signs."""
    host = link.host
    if (d := _under(host, policy.deny)) or any(p.search(link.url) for p in policy.deny_patterns):
        return LinkVerdict(link, "denied", f"域名在禁止名单 / denied domain {d or host}")
    if _under(host, policy.allow):
        if _RISKY_FILES.search(link.url):
            return LinkVerdict(link, "risky_file", "可执行文件下载 / executable download")
        return LinkVerdict(link, "allowed", "允许的域名 / allowed domain")
    if like := lookalike_of(host, policy.allow):
        return LinkVerdict(link, "lookalike", f"仿冒域名，疑似 {like} / look-alike of {like}", like)
    if _under(host, policy.shorteners):
        return LinkVerdict(link, "shortener", "短链接，目标未知 / URL shortener hides the target")
    if _IPV4.match(host):
        return LinkVerdict(link, "ip", "以 IP 地址代替域名 / raw IP address")
    if _RISKY_FILES.search(link.url):
        return LinkVerdict(link, "risky_file", "可执行文件下载 / executable download")
    return LinkVerdict(link, "unknown", "未列入名单 / not listed")


__all__ = ["SHORTENERS", "Link", "LinkPolicy", "LinkVerdict", "Verdict", "classify", "extract_links",
           "lookalike_of"]
