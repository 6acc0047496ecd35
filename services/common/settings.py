"""All configuration, in one place, from ``QG_*`` environment variables (and ``.env``).

Every variable is listed in the README's settings table; keep the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ServiceName = Literal["ingest", "roster", "rules", "penalties"]
SERVICES: tuple[ServiceName, ...] = ("ingest", "roster", "rules", "penalties")
DEFAULT_PORTS: dict[str, int] = {"ingest": 8101, "roster": 8102, "rules": 8103, "penalties": 8104}
DEFAULT_WORKER_BATCH = 1000


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QG_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("var"), description="Where SQLite files live on one machine.")
    eventlog: Literal["embedded", "kafka"] = Field("embedded", description="Event log engine: embedded (SQLite, one machine) or kafka.")
    eventlog_path: Path | None = Field(None, description="Embedded log file; default DATA_DIR/eventlog.db.")
    kafka_bootstrap: str | None = Field(None, description="Kafka bootstrap servers, host:port[,host:port].")
    kafka_client_id: str = Field("qunguard", description="Client id Kafka sees (quotas, broker logs).")
    kafka_max_poll_interval_ms: int = Field(
        300_000, ge=1000, description="Longest a worker may spend on one batch before Kafka evicts it from its group.")
    kafka_topic_prefix: str = Field("", description="Prefix of every Kafka topic name (several deployments on one cluster).")

    ingest_database_url: str | None = Field(None, description="SQLAlchemy URL of ingest's database; default sqlite:///DATA_DIR/ingest.db.")
    roster_database_url: str | None = Field(None, description="Roster's database (as above; postgresql://… in production).")
    rules_database_url: str | None = Field(None, description="Rules' database (as above).")
    penalties_database_url: str | None = Field(None, description="Penalties' database (as above).")

    host: str = Field("127.0.0.1", description="Address the APIs listen on (0.0.0.0 in containers).")
    ingest_port: int = Field(DEFAULT_PORTS["ingest"], description="Ingest API port.")
    roster_port: int = Field(DEFAULT_PORTS["roster"], description="Roster API port.")
    rules_port: int = Field(DEFAULT_PORTS["rules"], description="Rules API port.")
    penalties_port: int = Field(DEFAULT_PORTS["penalties"], description="Penalties API port.")

    ingest_url: str | None = Field(None, description="Base URL other services use to reach ingest.")
    roster_url: str | None = Field(None, description="Base URL of roster (default http://HOST:PORT).")
    rules_url: str | None = Field(None, description="Base URL of rules (default http://HOST:PORT).")
    penalties_url: str | None = Field(None, description="Base URL of penalties (default http://HOST:PORT).")
    service_token: str | None = Field(None, description="Bearer token services use to read each other's REST.")

    tokens: str = Field("", description="Comma-separated 'sha256hex:role1+role2:name' entries.")
    tokens_file: Path | None = Field(None, description="File of token entries, one per line.")
    max_body_bytes: int = Field(8 * 1024 * 1024, description="Largest request body accepted (413 beyond).")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_json: bool = Field(True, description="One JSON object per log line (false: plain text for a terminal).")
    clock_interval_s: float = Field(60.0, gt=0, description="How often the ticker appends a ClockTicked.")
    worker_batch: int = Field(
        DEFAULT_WORKER_BATCH, ge=1, le=20_000, description="Most records a worker applies in one transaction: it takes what is "
                                           "waiting, up to this (one or two when quiet, this many under load).")
    worker_metrics_offset: int = Field(100, ge=0, description="A worker serves /metrics on its API port + this (0: off).")

    # Enforcement (ingest carries out commands on the platforms; see services/ingest/enforcement).
    onebot_api_url: str | None = Field(None, description="OneBot v11 HTTP API base, e.g. http://127.0.0.1:3000.")
    onebot_access_token: str | None = Field(None, description="OneBot access_token, sent as Bearer.")
    dingtalk_robot_webhook: str | None = Field(
        None, description="Custom robot webhook (https://oapi.dingtalk.com/robot/send?access_token=…) of the "
                          "group QG_DINGTALK_ROBOT_GROUP_ID; a robot posts only into its own group.")
    dingtalk_robot_secret: str | None = Field(None, description="That robot's SEC… signing secret.")
    dingtalk_robot_group_id: str | None = Field(None, description="conversationId of the group that robot is in.")
    dingtalk_robots: dict[str, dict[str, str]] = Field(
        default_factory=dict, description='More robots, JSON: {"<conversationId>": {"webhook": "…", "secret": "SEC…"}}.')
    wecom_api_base: str = Field("https://qyapi.weixin.qq.com", description="WeCom server API base.")
    wecom_corp_id: str | None = Field(None, description="WeCom corpid.")
    wecom_corp_secret: str | None = Field(None, description="Secret of the WeCom app that created the group chats.")
    feishu_api_base: str = Field("https://open.feishu.cn", description="Feishu API base (Lark: https://open.larksuite.com).")
    feishu_app_id: str | None = Field(None, description="Feishu app_id (cli_…) of the bot.")
    feishu_app_secret: str | None = Field(None, description="Feishu app_secret of the bot.")
    enforcement_max_attempts: int = Field(4, ge=1, le=10, description="Attempts per command before EnforcementFailed.")
    enforcement_backoff_s: float = Field(0.5, gt=0, description="First retry delay; doubles per attempt.")
    enforcement_backoff_max_s: float = Field(8.0, gt=0, description="Longest retry delay (also caps Retry-After).")
    enforcement_timeout_s: float = Field(10.0, gt=0, description="HTTP timeout of one platform call.")

    # Ingest webhooks: each platform's own signing secrets (see services/ingest/README.md).
    ingest_allow_unsigned: bool = Field(
        False, description="Accept platform webhooks whose secret is not configured (development only); "
                           "otherwise they are refused with 401.")
    webhook_max_age_s: int = Field(3600, gt=0, description="Signed webhook timestamps older or newer than this are replays (401).")
    onebot_secret: str | None = Field(None, description="OneBot HTTP POST secret (NapCat: its token) for X-Signature HMAC-SHA1.")
    dingtalk_app_secret: str | None = Field(None, description="DingTalk robot appSecret, checks the outgoing callback's sign header.")
    dingtalk_event_token: str | None = Field(None, description="DingTalk event subscription token (msg_signature).")
    dingtalk_event_aes_key: str | None = Field(None, description="DingTalk event subscription aes_key (43 characters).")
    dingtalk_event_owner_key: str | None = Field(None, description="DingTalk receive id: the appKey (or corpId / suiteKey).")
    wecom_token: str | None = Field(None, description="WeCom callback Token (msg_signature).")
    wecom_aes_key: str | None = Field(None, description="WeCom callback EncodingAESKey (43 characters); receive id is QG_WECOM_CORP_ID.")
    feishu_verification_token: str | None = Field(None, description="Feishu event Verification Token.")
    feishu_encrypt_key: str | None = Field(None, description="Feishu event Encrypt Key (enables decryption and X-Lark-Signature checks).")

    @field_validator("kafka_bootstrap")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        return v.strip() if v else v

    def log_path(self) -> Path:
        return self.eventlog_path or self.data_dir / "eventlog.db"

    def database_url(self, service: ServiceName) -> str:
        url = getattr(self, f"{service}_database_url")
        return url or f"sqlite:///{self.data_dir / (service + '.db')}"

    def port(self, service: ServiceName) -> int:
        return getattr(self, f"{service}_port")

    def service_url(self, service: ServiceName) -> str:
        return getattr(self, f"{service}_url") or f"http://{self.host}:{self.port(service)}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
