"""Bearer tokens with roles, configured only by their SHA-256 hash.

Why hashes: the configuration (``QG_TOKENS``, the tokens file, a compose ``.env``) is read by more
people and tools than should be able to call the API; a hash lets them see *who* may call but not
call as them. A token is shown once, by ``qg token create``, and never stored or logged in clear.

Entry format (``QG_TOKENS`` comma-separated, or one per line in ``QG_TOKENS_FILE``; ``#`` comments)::

    <sha256 hex of the token>:<role>[+<role>...]:<name>

Roles: ``admin`` (passes every check), ``compliance``, ``hr``, ``group-admin``, ``ingest``,
``auditor``. ``require(*roles)`` is the FastAPI dependency every route uses: missing or unknown
token → 401 with ``WWW-Authenticate: Bearer``; known token without any of the roles → 403.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.logs import principal_var
from services.common.problems import ProblemError

ROLES: frozenset[str] = frozenset({"admin", "compliance", "hr", "group-admin", "ingest", "auditor"})
log = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>` (qg token create)")


class TokenConfigError(ValueError):
    """A configured token entry is malformed; the service refuses to start with it."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name (for audit trails: 'who decided this appeal') and roles."""

    name: str
    roles: frozenset[str]

    def has_any(self, roles: Iterable[str]) -> bool:
        wanted = set(roles)
        return "admin" in self.roles or not wanted or bool(self.roles & wanted)


@dataclass(frozen=True)
class TokenEntry:
    digest: bytes
    principal: Principal


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_entry(text: str, where: str = "QG_TOKENS") -> TokenEntry:
    """Parse ``sha256hex:role1+role2:name``; raises TokenConfigError saying where and why."""
    parts = text.strip().split(":", 2)
    if len(parts) != 3:
        raise TokenConfigError(f"{where}: expected 'sha256hex:role1+role2:name'")
    digest, roles_text, name = (p.strip() for p in parts)
    if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
        raise TokenConfigError(f"{where}: the first field must be a 64-digit SHA-256 hex digest")
    roles = frozenset(r.strip() for r in roles_text.split("+") if r.strip())
    unknown = roles - ROLES
    if not roles or unknown:
        raise TokenConfigError(f"{where}: unknown or missing roles {sorted(unknown)}; use {sorted(ROLES)}")
    if not name:
        raise TokenConfigError(f"{where}: the token needs a name")
    return TokenEntry(bytes.fromhex(digest), Principal(name, roles))


def parse_lines(lines: Iterable[str], where: str) -> list[TokenEntry]:
    entries = []
    for number, line in enumerate(lines, 1):
        if line.strip() and not line.lstrip().startswith("#"):
            entries.append(parse_entry(line, f"{where}:{number}"))
    return entries


class TokenStore:
    """The configured tokens; re-reads the tokens file when it changes, so a new token works at once."""

    def __init__(self, inline: str = "", path: Path | None = None) -> None:
        self._inline = parse_lines(inline.split(","), "QG_TOKENS") if inline.strip() else []
        self._path = path
        self._file_entries: list[TokenEntry] = []
        self._stamp: tuple[int, int] | None = None
        self._lock = Lock()
        self._reload_file()

    @classmethod
    def from_settings(cls, settings: Any) -> TokenStore:
        return cls(settings.tokens, settings.tokens_file)

    def _reload_file(self) -> None:
        if self._path is None:
            return
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            self._file_entries, self._stamp = [], None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            with self._lock:
                lines = self._path.read_text(encoding="utf-8").splitlines()
                self._file_entries = parse_lines(lines, str(self._path))
                self._stamp = stamp

    def entries(self) -> list[TokenEntry]:
        self._reload_file()
        return self._inline + self._file_entries

    def authenticate(self, token: str) -> Principal | None:
        """The principal of ``token`` or None. Compares every digest in constant time (no early exit)."""
        presented = hashlib.sha256(token.encode()).digest()
        found: Principal | None = None
        for entry in self.entries():
            if hmac.compare_digest(presented, entry.digest) and found is None:
                found = entry.principal
        return found


def _store(request: Request) -> TokenStore:
    store = getattr(request.app.state, "tokens", None)
    if store is None:
        raise RuntimeError("app.state.tokens is not set: build the app with services.common.app.build_app")
    return store


def _unauthorized(detail: str, error: str | None = None) -> ProblemError:
    challenge = 'Bearer realm="qunguard"' + (f', error="{error}"' if error else "")
    return ProblemError(401, detail=detail, headers={"WWW-Authenticate": challenge})


def require(*roles: str) -> Callable[..., Any]:
    """A dependency yielding the caller's :class:`Principal` if it holds any of ``roles``.

    No roles means any valid token. ``admin`` passes every check.
    """
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    async def dependency(request: Request,
                         credentials: HTTPAuthorizationCredentials | None = Security(_bearer)) -> Principal:
        if credentials is None or not credentials.credentials:
            raise _unauthorized("缺少访问令牌 / A bearer token is required.")
        principal = _store(request).authenticate(credentials.credentials)
        if principal is None:
            raise _unauthorized("访问令牌无效 / The bearer token is not valid.", "invalid_token")
        principal_var.set(principal.name)
        if not principal.has_any(roles):
            raise ProblemError(403, detail=f"需要角色 / Requires one of the roles: {', '.join(roles)}")
        return principal

    dependency.__name__ = f"require_{'_'.join(r.replace('-', '_') for r in roles) or 'token'}"
    return dependency


def new_token() -> str:
    """A random bearer token: 256 bits, URL-safe, prefixed so leaked ones are easy to grep for."""
    return "qg_" + secrets.token_urlsafe(32)


def create_token(name: str, roles: Sequence[str], path: Path) -> str:
    """Make a token, append its hash entry to ``path`` (created 0600), and return the token itself.

    The caller shows the token once; only the hash is kept.
    """
    if not name or any(c in name for c in ":,\n"):
        raise TokenConfigError("token name must be non-empty and contain no ':' ',' or newline")
    unknown = set(roles) - ROLES
    if not roles or unknown:
        raise TokenConfigError(f"unknown or missing roles {sorted(unknown)}; use {sorted(ROLES)}")
    token = new_token()
    entry = f"{hash_token(token)}:{'+'.join(sorted(set(roles)))}:{name}"
    parse_entry(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(entry + "\n")
    log.info("token created", extra={"token_name": name, "roles": sorted(set(roles))})
    return token


def has_role(path: Path, role: str) -> bool:
    """Whether the tokens file holds any entry with ``role`` (``qg up`` creates a first admin if not)."""
    if not path.exists():
        return False
    return any(role in e.principal.roles for e in parse_lines(path.read_text("utf-8").splitlines(), str(path)))
