"""Enforcement commands against local servers that speak each platform's documented API."""

from __future__ import annotations

import json

import pytest

from contracts.enforcement import EnforcementFailed, EnforcementSucceeded
from services.ingest.enforcement.executor import enforce
from services.ingest.enforcement.feishu import dedupe_uuid
from tests.integration.enforcement.conftest import FAST, NOTICE, command

pytestmark = pytest.mark.integration


def run(cmd, clients):
    return enforce(cmd, clients, FAST, sleep=lambda s: None)


# -- QQ / OneBot ---------------------------------------------------------------------------------

def test_onebot_notice_is_posted_as_plain_text_with_the_bearer_token(fakes, clients):
    outcome = run(command("qq", "notice", "734561290", text=NOTICE), clients)
    assert isinstance(outcome, EnforcementSucceeded) and outcome.attempts == 1
    sent = fakes["qq"].calls("/send_group_msg")[0]
    assert sent.body == {"group_id": 734561290, "message": NOTICE, "auto_escape": True}
    assert outcome.platform_response["data"] == {"message_id": 1839204711}


def test_onebot_mute_kick_and_recall_use_their_documented_actions(fakes, clients):
    assert isinstance(run(command("qq", "mute", "734561290", user_id="2854196310", duration_s=3600), clients),
                      EnforcementSucceeded)
    assert isinstance(run(command("qq", "remove", "734561290", user_id="2854196310"), clients), EnforcementSucceeded)
    assert isinstance(run(command("qq", "recall", "734561290", message_id="-2147401234"), clients),
                      EnforcementSucceeded)
    assert [r.path for r in fakes["qq"].requests] == ["/set_group_ban", "/set_group_kick", "/delete_msg"]
    assert fakes["qq"].requests[0].body == {"group_id": 734561290, "user_id": 2854196310, "duration": 3600}
    assert fakes["qq"].requests[1].body == {"group_id": 734561290, "user_id": 2854196310, "reject_add_request": False}
    assert fakes["qq"].requests[2].body == {"message_id": -2147401234}


def test_onebot_5xx_twice_then_ok_succeeds_on_the_third_attempt(fakes, clients):
    fakes["qq"].fail_next(502, {"message": "Bad Gateway"}, times=2)
    outcome = run(command("qq", "notice", "734561290", text=NOTICE), clients)
    assert isinstance(outcome, EnforcementSucceeded) and outcome.attempts == 3


def test_onebot_failed_status_is_a_permanent_failure_without_retry(fakes, clients):
    fakes["qq"].fail_next(200, {"status": "failed", "retcode": 100, "wording": "权限不足：机器人不是群管理员"})
    outcome = run(command("qq", "remove", "734561290", user_id="2854196310"), clients)
    assert isinstance(outcome, EnforcementFailed) and not outcome.unsupported and outcome.attempts == 1
    assert "权限不足" in outcome.reason and len(fakes["qq"].requests) == 1


def test_onebot_that_keeps_failing_gives_up_after_the_configured_attempts(fakes, clients):
    fakes["qq"].fail_next(503, {"message": "Service Unavailable"}, times=5)
    outcome = run(command("qq", "notice", "734561290", text=NOTICE), clients)
    assert isinstance(outcome, EnforcementFailed) and outcome.attempts == 3
    assert "503" in outcome.reason and len(fakes["qq"].requests) == 3


def test_onebot_with_a_wrong_token_fails_and_says_so(fakes, settings):
    import httpx

    from services.ingest.enforcement.clients import build_clients
    with httpx.Client(timeout=2.0) as http:
        wrong = build_clients(settings.model_copy(update={"onebot_access_token": "stale"}), http)
        outcome = run(command("qq", "notice", "734561290", text=NOTICE), wrong)
    assert isinstance(outcome, EnforcementFailed) and "401" in outcome.reason


def test_an_unreachable_onebot_is_retried_then_reported(settings):
    import httpx

    from services.ingest.enforcement.clients import build_clients
    with httpx.Client(timeout=0.5) as http:
        gone = build_clients(settings.model_copy(update={"onebot_api_url": "http://127.0.0.1:9"}), http)
        outcome = run(command("qq", "notice", "734561290", text=NOTICE), gone)
    assert isinstance(outcome, EnforcementFailed) and outcome.attempts == 3 and "transport error" in outcome.reason


# -- DingTalk -----------------------------------------------------------------------------------

def test_dingtalk_notice_goes_to_the_groups_robot_with_a_valid_signature(fakes, clients):
    outcome = run(command("dingtalk", "notice", "cidSales01==", text=NOTICE), clients)
    assert isinstance(outcome, EnforcementSucceeded), outcome
    sent = fakes["dingtalk"].requests[0]
    assert sent.path == "/robot/send" and sent.body == {"msgtype": "text", "text": {"content": NOTICE}}
    assert {"access_token", "timestamp", "sign"} <= set(sent.query)


def test_dingtalk_robot_with_the_wrong_secret_is_refused_by_the_signature_check(fakes, settings):
    import httpx

    from services.ingest.enforcement.clients import build_clients
    robots = {"cidSales01==": {**settings.dingtalk_robots["cidSales01=="], "secret": "SECwrong"}}
    with httpx.Client(timeout=2.0) as http:
        wrong = build_clients(settings.model_copy(update={"dingtalk_robots": robots}), http)
        outcome = run(command("dingtalk", "notice", "cidSales01==", text=NOTICE), wrong)
    assert isinstance(outcome, EnforcementFailed) and "310000" in outcome.reason and outcome.attempts == 1


def test_dingtalk_rate_limit_then_ok_is_retried(fakes, clients):
    fakes["dingtalk"].fail_next(200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})
    outcome = run(command("dingtalk", "notice", "cidSales01==", text=NOTICE), clients)
    assert isinstance(outcome, EnforcementSucceeded) and outcome.attempts == 2


def test_dingtalk_keyword_rejection_is_permanent(fakes, clients):
    fakes["dingtalk"].fail_next(200, {"errcode": 310000, "errmsg": "keywords not in content"})
    outcome = run(command("dingtalk", "notice", "cidSales01==", text=NOTICE), clients)
    assert isinstance(outcome, EnforcementFailed) and outcome.attempts == 1 and "310000" in outcome.reason


@pytest.mark.parametrize("action, extra", [("mute", {"user_id": "manager4521", "duration_s": 600}),
                                           ("remove", {"user_id": "manager4521"}),
                                           ("recall", {"message_id": "msgJ8dk2=="})])
def test_dingtalk_member_actions_are_reported_unsupported_without_a_call(fakes, clients, action, extra):
    outcome = run(command("dingtalk", action, "cidSales01==", **extra), clients)
    assert isinstance(outcome, EnforcementFailed) and outcome.unsupported and outcome.attempts == 0
    assert "钉钉" in outcome.reason and "DingTalk" in outcome.reason
    assert fakes["dingtalk"].requests == []


def test_dingtalk_group_without_a_robot_is_not_configured_not_unsupported(fakes, clients):
    outcome = run(command("dingtalk", "notice", "cidOther99==", text=NOTICE), clients)
    assert isinstance(outcome, EnforcementFailed) and not outcome.unsupported and "QG_DINGTALK_ROBOTS" in outcome.reason


# -- WeCom --------------------------------------------------------------------------------------

def test_wecom_notice_fetches_a_token_once_and_reuses_it(fakes, clients):
    for _ in range(2):
        assert isinstance(run(command("wecom", "notice", "CHAT_SALES_01", text=NOTICE), clients), EnforcementSucceeded)
    assert len(fakes["wecom"].calls("/cgi-bin/gettoken")) == 1
    sent = fakes["wecom"].calls("/cgi-bin/appchat/send")[0]
    assert sent.body == {"chatid": "CHAT_SALES_01", "msgtype": "text", "text": {"content": NOTICE}, "safe": 0}


def test_wecom_removal_updates_the_app_chat(fakes, clients):
    outcome = run(command("wecom", "remove", "CHAT_SALES_01", user_id="ZhangSan"), clients)
    assert isinstance(outcome, EnforcementSucceeded)
    assert fakes["wecom"].calls("/cgi-bin/appchat/update")[0].body == {"chatid": "CHAT_SALES_01",
                                                                       "del_user_list": ["ZhangSan"]}


def test_wecom_expired_token_is_refetched_and_the_call_resent(fakes, clients):
    fakes["wecom"].fail_next(200, {"errcode": 42001, "errmsg": "access_token expired"})
    outcome = run(command("wecom", "notice", "CHAT_SALES_01", text=NOTICE), clients)
    assert isinstance(outcome, EnforcementSucceeded) and outcome.attempts == 1
    assert len(fakes["wecom"].calls("/cgi-bin/gettoken")) == 2


def test_wecom_system_busy_then_ok_is_retried(fakes, clients):
    fakes["wecom"].fail_next(200, {"errcode": -1, "errmsg": "system busy"})
    outcome = run(command("wecom", "notice", "CHAT_SALES_01", text=NOTICE), clients)
    assert isinstance(outcome, EnforcementSucceeded) and outcome.attempts == 2


def test_wecom_group_not_created_by_the_app_fails_with_the_errcode(fakes, clients):
    outcome = run(command("wecom", "notice", "CHAT_UNKNOWN", text=NOTICE), clients)
    assert isinstance(outcome, EnforcementFailed) and not outcome.unsupported and "86003" in outcome.reason


def test_wecom_customer_group_and_mute_are_unsupported(fakes, clients):
    customer = run(command("wecom", "notice", "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA", text=NOTICE), clients)
    mute = run(command("wecom", "mute", "CHAT_SALES_01", user_id="ZhangSan", duration_s=600), clients)
    assert customer.unsupported and "客户群" in customer.reason and "customer groups" in customer.reason
    assert mute.unsupported and "禁言" in mute.reason
    assert fakes["wecom"].requests == []


# -- Feishu -------------------------------------------------------------------------------------

def test_feishu_notice_is_a_text_message_with_the_command_id_as_dedupe_uuid(fakes, clients):
    cmd = command("feishu", "notice", "oc_a0553eda9014c201e6969b478895c230", text=NOTICE)
    outcome = run(cmd, clients)
    assert isinstance(outcome, EnforcementSucceeded)
    sent = fakes["feishu"].calls("/open-apis/im/v1/messages")[0]
    assert sent.query == {"receive_id_type": "chat_id", "uuid": dedupe_uuid(cmd.command_id)}
    assert len(sent.query["uuid"]) <= 50
    assert sent.body["msg_type"] == "text" and json.loads(sent.body["content"]) == {"text": NOTICE}
    assert sent.headers["authorization"].startswith("Bearer t-")


def test_feishu_removal_and_recall_use_the_im_v1_delete_endpoints(fakes, clients):
    chat = "oc_a0553eda9014c201e6969b478895c230"
    assert isinstance(run(command("feishu", "remove", chat, user_id="ou_7d8a6e6df7621556ce0d21922b676706ccs"),
                          clients), EnforcementSucceeded)
    assert isinstance(run(command("feishu", "recall", chat, message_id="om_5ce6d572455d361153b7cb51da133945"),
                          clients), EnforcementSucceeded)
    remove, recall = [r for r in fakes["feishu"].requests if r.method == "DELETE"]
    assert remove.path == f"/open-apis/im/v1/chats/{chat}/members" and remove.query == {"member_id_type": "open_id"}
    assert remove.body == {"id_list": ["ou_7d8a6e6df7621556ce0d21922b676706ccs"]}
    assert recall.path == "/open-apis/im/v1/messages/om_5ce6d572455d361153b7cb51da133945"


def test_feishu_rate_limit_then_ok_is_retried(fakes, clients):
    fakes["feishu"].fail_next(429, {"code": 99991400, "msg": "request trigger frequency limit"})
    outcome = run(command("feishu", "notice", "oc_a0553eda9014c201e6969b478895c230", text=NOTICE), clients)
    assert isinstance(outcome, EnforcementSucceeded) and outcome.attempts == 2


def test_feishu_permission_error_is_permanent(fakes, clients):
    fakes["feishu"].fail_next(400, {"code": 232017, "msg": "The bot is not the owner or admin of the group."})
    outcome = run(command("feishu", "remove", "oc_a0553eda9014c201e6969b478895c230",
                          user_id="ou_7d8a6e6df7621556ce0d21922b676706ccs"), clients)
    assert isinstance(outcome, EnforcementFailed) and outcome.attempts == 1 and "232017" in outcome.reason


def test_feishu_invalid_member_id_is_reported(fakes, clients):
    outcome = run(command("feishu", "remove", "oc_a0553eda9014c201e6969b478895c230", user_id="zhangsan"), clients)
    assert isinstance(outcome, EnforcementFailed) and "zhangsan" in outcome.reason


def test_feishu_mute_is_unsupported(fakes, clients):
    outcome = run(command("feishu", "mute", "oc_a0553eda9014c201e6969b478895c230",
                          user_id="ou_7d8a6e6df7621556ce0d21922b676706ccs", duration_s=600), clients)
    assert outcome.unsupported and "飞书" in outcome.reason and "Feishu" in outcome.reason
    assert fakes["feishu"].requests == []
