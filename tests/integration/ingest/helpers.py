"""Shared helpers of the ingest integration tests: settings, signed requests, reading the log back."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson

from contracts.envelope import CloudEvent, decode
from services.common.auth import hash_token
from services.common.eventlog.embedded import EmbeddedLog
from services.common.settings import Settings

INGEST_TOKEN = "ingest-bot-token"
AUDITOR_TOKEN = "auditor-token"
ONEBOT_SECRET = "napcat-密钥"
DINGTALK_SECRET = "dt-app-secret"
WECOM = {"token": "QDG6eK", "aes": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "corp": "wx5823bf96d3bd56c7"}
FEISHU = {"token": "v3rIfIcAtIoNtOkEn", "key": "飞书-encrypt-key"}
DT_EVENT = {"token": "dt-token", "aes": "B" * 42 + "E", "owner": "dingappkey"}


def make_settings(tmp_path: Path, **extra) -> Settings:
    tokens = f"{hash_token(INGEST_TOKEN)}:ingest:群机器人,{hash_token(AUDITOR_TOKEN)}:auditor:审计员"
    values = dict(data_dir=tmp_path, eventlog="embedded", tokens=tokens,
                  onebot_secret=ONEBOT_SECRET, dingtalk_app_secret=DINGTALK_SECRET,
                  dingtalk_event_token=DT_EVENT["token"], dingtalk_event_aes_key=DT_EVENT["aes"],
                  dingtalk_event_owner_key=DT_EVENT["owner"], wecom_token=WECOM["token"],
                  wecom_aes_key=WECOM["aes"], wecom_corp_id=WECOM["corp"],
                  feishu_verification_token=FEISHU["token"], feishu_encrypt_key=FEISHU["key"])
    return Settings(_env_file=None, **{**values, **extra})


def read_topic(log_path: Path, topic: str) -> list[CloudEvent]:
    """Every record of ``topic`` from the beginning, decoded (a fresh consumer group each time)."""
    log = EmbeddedLog(log_path)
    consumer = log.consumer(f"test-{uuid.uuid4().hex[:8]}", [topic])
    consumer.seek_to_beginning()
    out: list[CloudEvent] = []
    try:
        while batch := consumer.poll(timeout_s=0.3, max_records=5000):
            out.extend(decode(r.value) for r in batch)
    finally:
        consumer.close()
        log.close()
    return out


def bearer(token: str = INGEST_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def generic_message(i: int, text: str = "今晚上线，请 21:00 到位") -> dict:
    return {"platform": "wechat", "type": "message", "id": f"wx-{i}", "group_id": "研发部-后端组",
            "user_id": "wxid_zhangsan", "time": "2026-03-02T09:15:00+08:00", "msg_type": "text", "text": text}


def dumps(value: object) -> bytes:
    return orjson.dumps(value)
