"""Links are found in chat text even without a scheme, and judged against the pack's lists."""

from __future__ import annotations

import pytest

from services.rules.text.links import LinkPolicy, classify, extract_links, lookalike_of

pytestmark = pytest.mark.unit

POLICY = LinkPolicy.of(deny=["bad-casino.cn"], allow=["weixin.qq.com", "example-corp.com"],
                       deny_patterns=[r"/login\.php\?steal"])


def verdicts(text: str) -> list[tuple[str, str]]:
    return [(classify(link, POLICY).verdict, text[link.start:link.end]) for link in extract_links(text)]


def test_scheme_and_bare_domain_links_are_extracted_with_spans() -> None:
    text = "资料在 https://example-corp.com/doc?id=3，备用 example-corp.com/b 也行"
    assert [t for _, t in verdicts(text)] == ["https://example-corp.com/doc?id=3", "example-corp.com/b"]


def test_version_numbers_file_names_and_emails_are_not_links() -> None:
    assert extract_links("升级到 v1.2.3，见 readme.md，邮件 a@example-corp.com") == []


def test_denied_domain_and_its_subdomains_are_denied() -> None:
    assert verdicts("上 www.bad-casino.cn 充值送彩金") == [("denied", "www.bad-casino.cn")]
    assert verdicts("http://x.cn/login.php?steal=1")[0][0] == "denied"


def test_look_alike_domains_of_allowed_ones_are_flagged() -> None:
    assert verdicts("账号异常请登录 weixln.qq.com 验证") == [("lookalike", "weixln.qq.com")]
    assert verdicts("https://xn--wixin-zwe.qq.com/verify") == [("lookalike", "https://xn--wixin-zwe.qq.com/verify")]
    assert verdicts("example-corp.com.account-check.cn/reset") [0][0] == "lookalike"
    assert lookalike_of("weixin.qq.com", ["weixin.qq.com"]) is None


def test_shorteners_ip_hosts_and_executables_are_warning_signs() -> None:
    assert verdicts("看看这个 t.cn/A6x9ZbQ") == [("shortener", "t.cn/A6x9ZbQ")]
    assert verdicts("下载 http://103.21.4.9:8080/a") [0][0] == "ip"
    assert verdicts("补丁 https://files.example.org/patch.exe") [0][0] == "risky_file"


def test_allowed_and_ordinary_domains_are_not_flagged() -> None:
    assert verdicts("周报模板 https://example-corp.com/weekly") == [("allowed", "https://example-corp.com/weekly")]
    assert verdicts("参考 docs.python.org 的说明") == [("unknown", "docs.python.org")]
