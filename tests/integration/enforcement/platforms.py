"""Local stand-ins for the platforms' HTTP APIs, speaking their documented request and response shapes.

Each fake checks what the real platform checks (the OneBot bearer token, DingTalk's robot signature, the
WeCom and Feishu access tokens) and records every request, so tests can assert on what was sent.
``fail_next(status, body, times)`` scripts transient or permanent failures ahead of the normal answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, Any]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class FakePlatform:
    route: Callable[["FakePlatform", Seen], Answer]
    requests: list[Seen] = field(default_factory=list)
    scripted: list[Answer] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.scripted.clear()

    def fail_next(self, status: int, body: Any, times: int = 1) -> None:
        self.scripted.extend([(status, body)] * times)

    def calls(self, path_part: str = "") -> list[Seen]:
        return [r for r in self.requests if path_part in r.path]

    def answer(self, seen: Seen) -> Answer:
        with self.lock:
            self.requests.append(seen)
            is_token = "token" in seen.path
            if self.scripted and not is_token:
                return self.scripted.pop(0)
        return self.route(self, seen)

    def start(self) -> "FakePlatform":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, answer = fake.answer(Seen(self.command, parts.path, query,
                                                  {k.lower(): v for k, v in self.headers.items()}, body))
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


# -- OneBot v11 -----------------------------------------------------------------------------------
ONEBOT_TOKEN = "onebot-token-7f3a"


def onebot_route(fake: FakePlatform, seen: Seen) -> Answer:
    if seen.headers.get("authorization") != f"Bearer {ONEBOT_TOKEN}":
        return 401, {"status": "failed", "retcode": 1403, "message": "token verify failed"}
    action = seen.path.strip("/")
    if action not in {"send_group_msg", "set_group_ban", "set_group_kick", "delete_msg"}:
        return 404, {"status": "failed", "retcode": 1404, "message": "API 不存在"}
    data = {"message_id": 1839204711} if action == "send_group_msg" else None
    return 200, {"status": "ok", "retcode": 0, "data": data, "message": "", "wording": ""}


# -- DingTalk custom robot ------------------------------------------------------------------------
DINGTALK_ACCESS_TOKEN = "a1b2c3d4e5f6"
DINGTALK_SECRET = "SEC3f1c9d2e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1"


def dingtalk_route(fake: FakePlatform, seen: Seen) -> Answer:
    q = seen.query
    if q.get("access_token") != DINGTALK_ACCESS_TOKEN:
        return 200, {"errcode": 300001, "errmsg": "token is not exist"}
    expected = base64.b64encode(hmac.new(DINGTALK_SECRET.encode(), f"{q.get('timestamp')}\n{DINGTALK_SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    if q.get("sign") != expected:  # parse_qs already URL-decoded it
        return 200, {"errcode": 310000, "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"}
    return 200, {"errcode": 0, "errmsg": "ok"}


# -- WeCom ----------------------------------------------------------------------------------------
WECOM_CORP_ID, WECOM_SECRET, WECOM_TOKEN = "ww4f1a2b3c4d5e6f70", "wecom-app-secret", "wecom-access-token-1"


def wecom_route(fake: FakePlatform, seen: Seen) -> Answer:
    if seen.path == "/cgi-bin/gettoken":
        if seen.query.get("corpid") != WECOM_CORP_ID or seen.query.get("corpsecret") != WECOM_SECRET:
            return 200, {"errcode": 40001, "errmsg": "invalid credential"}
        return 200, {"errcode": 0, "errmsg": "ok", "access_token": WECOM_TOKEN, "expires_in": 7200}
    if seen.query.get("access_token") != WECOM_TOKEN:
        return 200, {"errcode": 40014, "errmsg": "invalid access_token"}
    if seen.path in ("/cgi-bin/appchat/send", "/cgi-bin/appchat/update"):
        if seen.body.get("chatid") != "CHAT_SALES_01":
            return 200, {"errcode": 86003, "errmsg": "chat not exist"}
        return 200, {"errcode": 0, "errmsg": "ok"}
    return 404, {"errcode": 404, "errmsg": "not found"}


# -- Feishu ---------------------------------------------------------------------------------------
FEISHU_APP_ID, FEISHU_SECRET, FEISHU_TOKEN = "cli_a1b2c3d4e5f6", "feishu-app-secret", "t-g1044ghJRUIJJ5ELPZ5SBJ5T"


def feishu_route(fake: FakePlatform, seen: Seen) -> Answer:
    if seen.path == "/open-apis/auth/v3/tenant_access_token/internal":
        if seen.body != {"app_id": FEISHU_APP_ID, "app_secret": FEISHU_SECRET}:
            return 400, {"code": 10014, "msg": "app secret invalid"}
        return 200, {"code": 0, "msg": "ok", "tenant_access_token": FEISHU_TOKEN, "expire": 7200}
    if seen.headers.get("authorization") != f"Bearer {FEISHU_TOKEN}":
        return 400, {"code": 99991663, "msg": "Invalid access token for authorization. "
                                              "Please make a request with token attached."}
    if seen.method == "POST" and seen.path == "/open-apis/im/v1/messages":
        return 200, {"code": 0, "msg": "success", "data": {"message_id": "om_dc13264520392913993dd051dba21dcf",
                                                            "chat_id": seen.body["receive_id"], "msg_type": "text"}}
    if seen.method == "DELETE" and seen.path.startswith("/open-apis/im/v1/messages/"):
        return 200, {"code": 0, "msg": "success", "data": {}}
    if seen.method == "DELETE" and seen.path.endswith("/members"):
        if not seen.body["id_list"][0].startswith("ou_"):
            return 200, {"code": 0, "msg": "success", "data": {"invalid_id_list": seen.body["id_list"]}}
        return 200, {"code": 0, "msg": "success", "data": {"invalid_id_list": []}}
    return 404, {"code": 404, "msg": "not found"}
