"""Canonical chat events (``qg.chat.v1``), produced by ingest from every platform.

``user_id`` is always the platform's account id of the actor (a QQ number, a DingTalk staff id, a
WeCom userid, a Feishu open_id); roster links accounts to employees. Times are platform times.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts import topics
from contracts.base import AwareDatetime, Payload, group_ref

Platform = Literal["wechat", "wecom", "dingtalk", "qq", "feishu", "other"]
MsgType = Literal["text", "image", "link", "file", "voice", "video", "card", "other"]
MemberRole = Literal["owner", "admin", "member"]


class ChatEvent(Payload):
    topic: ClassVar = topics.CHAT
    platform: Platform
    group_id: str = Field(min_length=1)
    platform_event_id: str = Field(min_length=1, description="The platform's own id of this event.")
    occurred_at: AwareDatetime
    group_name: str | None = None

    def partition_key(self) -> str:
        return group_ref(self.platform, self.group_id)


class MessagePosted(ChatEvent):
    event_type: ClassVar[str] = "qunguard.chat.message_posted.v1"
    message_id: str
    user_id: str
    nickname: str | None = None
    msg_type: MsgType = "text"
    text: str | None = None
    url: str | None = None
    mentions: list[str] = []
    mention_all: bool = False
    reply_to: str | None = None
    sender_role: MemberRole | None = None


class MessageRecalled(ChatEvent):
    event_type: ClassVar[str] = "qunguard.chat.message_recalled.v1"
    message_id: str
    user_id: str = Field(description="Who posted the recalled message.")
    operator_id: str | None = None


class MemberJoined(ChatEvent):
    event_type: ClassVar[str] = "qunguard.chat.member_joined.v1"
    user_id: str
    nickname: str | None = None
    operator_id: str | None = Field(None, description="Who invited or approved the member.")


class MemberLeft(ChatEvent):
    """The member left on their own (self-exit)."""

    event_type: ClassVar[str] = "qunguard.chat.member_left.v1"
    user_id: str
    nickname: str | None = None


class MemberRemoved(ChatEvent):
    event_type: ClassVar[str] = "qunguard.chat.member_removed.v1"
    user_id: str
    nickname: str | None = None
    operator_id: str | None = None


class NicknameChanged(ChatEvent):
    event_type: ClassVar[str] = "qunguard.chat.nickname_changed.v1"
    user_id: str
    nickname: str = Field(description="The new display name in the group ('' for none).")
    old_nickname: str | None = None


class GroupCreated(ChatEvent):
    event_type: ClassVar[str] = "qunguard.chat.group_created.v1"
    user_id: str = Field(description="The creator.")


class GroupRenamed(ChatEvent):
    event_type: ClassVar[str] = "qunguard.chat.group_renamed.v1"
    user_id: str | None = None
    old_name: str | None = None


class GroupDissolved(ChatEvent):
    event_type: ClassVar[str] = "qunguard.chat.group_dissolved.v1"
    user_id: str | None = None


class AdminChanged(ChatEvent):
    event_type: ClassVar[str] = "qunguard.chat.admin_changed.v1"
    user_id: str
    change: Literal["set", "unset", "owner"] = "set"
    operator_id: str | None = None


class SnapshotMember(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    user_id: str = Field(min_length=1)
    nickname: str | None = None
    role: MemberRole = "member"


class MembersSnapshot(ChatEvent):
    """A group's whole membership at ``occurred_at``; roster reconciles events against it."""

    event_type: ClassVar[str] = "qunguard.chat.members_snapshot.v1"
    members: list[SnapshotMember]


class RawPayloadReceived(Payload):
    """What a platform sent, as received: the first link of every audit chain (``qg.ingest.raw.v1``)."""

    event_type: ClassVar[str] = "qunguard.ingest.raw_payload_received.v1"
    topic: ClassVar = topics.RAW
    receipt_id: str
    adapter: str
    platform: Platform
    received_at: AwareDatetime
    headers: dict[str, str] = {}
    body: str = Field(description="The body as text (UTF-8), or base64 when body_encoding says so.")
    body_encoding: Literal["utf-8", "base64"] = "utf-8"
    signature: Literal["verified", "missing", "invalid", "not_configured"]
    event_ids: list[str] = Field([], description="Canonical chat event ids derived from it.")
    group_id: str | None = None
    part: int = Field(1, ge=1, description="Which part of the receipt this is (long bodies are split).")
    parts: int = Field(1, ge=1, description="How many parts the receipt was split into.")

    def partition_key(self) -> str:
        return group_ref(self.platform, self.group_id) if self.group_id else self.adapter
