"""Pure plans and reply classification, per platform: no network."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from contracts.enforcement import EnforcementRequested
from services.ingest.enforcement import dingtalk, feishu, onebot, wecom
from services.ingest.enforcement.calls import Invalid, PlatformCall, Unsupported

pytestmark = pytest.mark.unit

T0 = datetime(2026, 9, 21, 10, 30, tzinfo=timezone(timedelta(hours=8)))
NOTICE = "【群规提醒】张三 在「销售一部工作群」发布广告内容，违反《群管理制度》第四章第2条，予以警告。"


def cmd(platform: str, action: str, group_id: str, **fields) -> EnforcementRequested:
    return EnforcementRequested(command_id="3b7f2c1e-5d0a-5f4e-9c8b-1a2b3c4d5e6f", platform=platform,
                                group_id=group_id, action=action, requested_at=T0, **fields)


def test_onebot_notice_escapes_cq_codes_so_a_nickname_cannot_become_an_at_all():
    planned = onebot.plan(cmd("qq", "notice", "734561290", text="提醒：[CQ:at,qq=all] 请勿刷屏"))
    assert planned == PlatformCall("POST", "/send_group_msg", {"group_id": 734561290,
                                                                "message": "提醒：[CQ:at,qq=all] 请勿刷屏",
                                                                "auto_escape": True})


def test_onebot_mute_for_zero_seconds_lifts_the_ban():
    planned = onebot.plan(cmd("qq", "mute", "734561290", user_id="2854196310", duration_s=0))
    assert planned.json == {"group_id": 734561290, "user_id": 2854196310, "duration": 0}


@pytest.mark.parametrize("action, fields, needs", [
    ("notice", {}, "text"), ("mute", {"user_id": "2854196310"}, "duration_s"),
    ("remove", {}, "user_id"), ("recall", {}, "message_id")])
def test_onebot_commands_missing_what_the_action_needs_are_invalid(action, fields, needs):
    planned = onebot.plan(cmd("qq", action, "734561290", **fields))
    assert isinstance(planned, Invalid) and needs in planned.reason


def test_onebot_non_numeric_group_is_invalid_not_a_crash():
    assert isinstance(onebot.plan(cmd("qq", "notice", "销售一部", text=NOTICE)), Invalid)


@pytest.mark.parametrize("body, kind", [
    ({"status": "ok", "retcode": 0, "data": {"message_id": 1}}, "ok"),
    ({"status": "async", "retcode": 1, "data": None}, "ok"),
    ({"status": "failed", "retcode": 102, "wording": "群不存在"}, "fail")])
def test_onebot_answers_are_classified_by_status(body, kind):
    assert onebot.interpret(200, body).kind == kind


@pytest.mark.parametrize("status, kind", [(401, "fail"), (404, "fail"), (429, "retry"), (500, "retry"), (502, "retry")])
def test_onebot_http_errors_are_classified_by_code(status, kind):
    assert onebot.interpret(status, {"message": "x"}).kind == kind


def test_dingtalk_signature_is_url_encoded_base64_of_hmac_sha256():
    signed = dingtalk.sign(1758421800000, "SEC000111222")
    assert "+" not in signed and "/" not in signed and "=" not in signed
    assert signed != dingtalk.sign(1758421800001, "SEC000111222")


def test_dingtalk_notice_targets_the_groups_robot_and_member_actions_are_unsupported():
    planned = dingtalk.plan(cmd("dingtalk", "notice", "cidSales01==", text=NOTICE))
    assert planned.target == "cidSales01==" and planned.json == {"msgtype": "text", "text": {"content": NOTICE}}
    for action in ("mute", "remove", "recall"):
        refusal = dingtalk.plan(cmd("dingtalk", action, "cidSales01==", user_id="u1", message_id="m1", duration_s=60))
        assert type(refusal) is Unsupported and "钉钉" in refusal.reason_zh and "DingTalk" in refusal.reason_en


@pytest.mark.parametrize("errcode, kind", [(0, "ok"), (130101, "retry"), (-1, "retry"), (310000, "fail"),
                                           (300001, "fail")])
def test_dingtalk_errcodes_are_classified(errcode, kind):
    assert dingtalk.interpret(200, {"errcode": errcode, "errmsg": "…"}).kind == kind


def test_wecom_internal_groups_get_appchat_calls_and_customer_groups_are_unsupported():
    assert wecom.plan(cmd("wecom", "notice", "CHAT_SALES_01", text=NOTICE)).path == "/cgi-bin/appchat/send"
    assert wecom.plan(cmd("wecom", "remove", "CHAT_SALES_01", user_id="ZhangSan")).json == {
        "chatid": "CHAT_SALES_01", "del_user_list": ["ZhangSan"]}
    for action in ("notice", "remove"):
        refusal = wecom.plan(cmd("wecom", action, "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA", text=NOTICE, user_id="wmX"))
        assert type(refusal) is Unsupported and "客户群" in refusal.reason_zh


@pytest.mark.parametrize("errcode, kind", [(0, "ok"), (42001, "refresh"), (40014, "refresh"), (45009, "retry"),
                                           (-1, "retry"), (86003, "fail"), (60011, "fail")])
def test_wecom_errcodes_are_classified(errcode, kind):
    assert wecom.interpret(200, {"errcode": errcode, "errmsg": "…"}).kind == kind


def test_feishu_notice_content_is_a_json_string_and_the_uuid_fits_fifty_characters():
    long_id = "enforcement:" + "8" * 60
    planned = feishu.plan(cmd("feishu", "notice", "oc_a0553eda9014c201e6969b478895c230", text=NOTICE)
                          .model_copy(update={"command_id": long_id}))
    assert json.loads(planned.json["content"]) == {"text": NOTICE}
    assert len(planned.params["uuid"]) <= 50 and planned.params["uuid"] == feishu.dedupe_uuid(long_id)
    assert feishu.dedupe_uuid(long_id) != feishu.dedupe_uuid(long_id + "9")


def test_feishu_paths_quote_ids_so_they_cannot_escape_the_endpoint():
    planned = feishu.plan(cmd("feishu", "recall", "oc_1", message_id="om_1/../../chats"))
    assert planned.path == "/open-apis/im/v1/messages/om_1%2F..%2F..%2Fchats"


@pytest.mark.parametrize("status, body, kind", [
    (200, {"code": 0, "msg": "success", "data": {}}, "ok"),
    (400, {"code": 99991663, "msg": "Invalid access token"}, "refresh"),
    (400, {"code": 99991400, "msg": "request trigger frequency limit"}, "retry"),
    (429, {"code": 99991400, "msg": "too many requests"}, "retry"),
    (400, {"code": 232017, "msg": "bot is not group owner or admin"}, "fail"),
    (503, "<html>upstream error</html>", "retry")])
def test_feishu_answers_are_classified_by_code_before_status(status, body, kind):
    assert feishu.interpret(status, body).kind == kind
