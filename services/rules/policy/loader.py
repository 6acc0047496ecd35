"""Load and check policy packs, reporting EVERY error with its path and line, in Chinese and English.

``check_text`` never stops at the first problem: it validates the pack's structure, then each rule's
``params`` against its detector's own model, then each ladder against the penalties ladder model, then
cross-references (a rule's ladder and notice exist). Each error carries the path as a compliance
officer reads it (``rules[3].params.within``) and the line and column in the YAML file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from services.rules.detectors.base import load_all
from services.rules.policy.model import PolicyPack

Loc = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class PolicyError:
    line: int | None
    column: int | None
    path: str
    zh: str
    en: str

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}: " if self.line else ""
        return f"{where}{self.path or '(根 / root)'}: {self.zh} / {self.en}"


class PolicyInvalid(ValueError):
    """The pack has errors; ``errors`` lists all of them."""

    def __init__(self, errors: list[PolicyError], source: str = "") -> None:
        self.errors = errors
        super().__init__("\n".join(f"{source}:{e}" if source else str(e) for e in errors))


def format_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# -- messages ------------------------------------------------------------------------------------

def _bilingual(err: dict[str, Any]) -> tuple[str, str]:
    kind, ctx, msg = err["type"], err.get("ctx") or {}, err["msg"]
    if kind == "value_error" or kind == "assertion_error":
        text = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        zh, _, en = text.partition(" / ")
        return zh, en or zh
    if kind in ("greater_than", "greater_than_equal") and ctx.get("gt", ctx.get("ge")) in (0, 0.0):
        return "必须是正数" if kind == "greater_than" else "不能为负数", \
            "must be positive" if kind == "greater_than" else "must not be negative"
    table = {
        "missing": ("必填字段缺失", "field required"),
        "extra_forbidden": ("不允许的字段（拼写错误？）", "unknown field (a typo?)"),
        "greater_than": (f"必须大于 {ctx.get('gt')}", f"must be greater than {ctx.get('gt')}"),
        "greater_than_equal": (f"必须不小于 {ctx.get('ge')}", f"must be at least {ctx.get('ge')}"),
        "less_than_equal": (f"必须不大于 {ctx.get('le')}", f"must be at most {ctx.get('le')}"),
        "string_pattern_mismatch": (f"格式不符（{ctx.get('pattern')}）", f"does not match {ctx.get('pattern')}"),
        "string_too_short": ("不能为空", "must not be empty"),
        "too_short": (f"至少需要 {ctx.get('min_length')} 项", f"needs at least {ctx.get('min_length')} item(s)"),
        "literal_error": (f"取值只能是 {ctx.get('expected')}", f"must be one of {ctx.get('expected')}"),
        "int_parsing": ("必须是整数", "must be an integer"),
        "int_type": ("必须是整数", "must be an integer"),
        "float_parsing": ("必须是数字", "must be a number"),
        "float_type": ("必须是数字", "must be a number"),
        "bool_parsing": ("必须是 true 或 false", "must be true or false"),
        "bool_type": ("必须是 true 或 false", "must be true or false"),
        "string_type": ("必须是文本", "must be text"),
        "list_type": ("必须是列表", "must be a list"),
        "dict_type": ("必须是映射（键: 值）", "must be a mapping"),
        "model_type": ("必须是映射（键: 值）", "must be a mapping"),
        "date_from_datetime_parsing": ("日期格式应为 YYYY-MM-DD", "date must be YYYY-MM-DD"),
        "date_parsing": ("日期格式应为 YYYY-MM-DD", "date must be YYYY-MM-DD"),
        "datetime_parsing": ("时间格式应为 RFC 3339，如 2025-01-01T00:00:00+08:00",
                             "datetime must be RFC 3339, e.g. 2025-01-01T00:00:00+08:00"),
        "datetime_from_date_parsing": ("时间格式应为 RFC 3339", "datetime must be RFC 3339"),
        "tuple_type": ("必须是列表", "must be a list"),
    }
    return table.get(kind, (msg, msg))


def _errors(exc: ValidationError, prefix: Loc, lines: dict[Loc, tuple[int, int]]) -> list[PolicyError]:
    out = []
    for err in exc.errors():
        loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        loc = tuple(p for p in loc if p not in ("tagged-union", "lax-or-strict"))
        zh, en = _bilingual(err)
        line, col = _line_of(loc, lines)
        out.append(PolicyError(line, col, format_path(loc), zh, en))
    return out


def _line_of(loc: Loc, lines: dict[Loc, tuple[int, int]]) -> tuple[int | None, int | None]:
    for i in range(len(loc), -1, -1):
        if loc[:i] in lines:
            return lines[loc[:i]]
    return None, None


# -- YAML with positions ---------------------------------------------------------------------------

def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, tuple[int, int]], dups: list[PolicyError]) -> None:
    lines[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            k = key.value
            if k in seen:
                dups.append(PolicyError(key.start_mark.line + 1, key.start_mark.column + 1,
                                        format_path(loc + (k,)), "键重复，后者会覆盖前者", "duplicate key"))
            seen.add(k)
            _walk(value, loc + (k,), lines, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, loc + (i,), lines, dups)


def parse_yaml(text: str) -> tuple[Any, dict[Loc, tuple[int, int]], list[PolicyError]]:
    """The data, a map from path to (line, column), and structural errors (syntax, duplicate keys)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        return None, {}, [PolicyError(line, col, "", "YAML 语法错误", f"YAML syntax error: {exc}")]
    lines: dict[Loc, tuple[int, int]] = {}
    dups: list[PolicyError] = []
    if node is not None:
        _walk(node, (), lines, dups)
    return data, lines, dups


# -- checking --------------------------------------------------------------------------------------

def check_data(data: Any, lines: dict[Loc, tuple[int, int]] | None = None) -> tuple[PolicyPack | None, list[PolicyError]]:
    """Validate a pack given as data (parsed YAML or JSON); returns the pack (if valid) and all errors."""
    lines = lines or {}
    registry = load_all()
    errors: list[PolicyError] = []
    pack: PolicyPack | None = None
    if not isinstance(data, dict):
        return None, [PolicyError(1, 1, "", "策略包必须是映射（键: 值）", "a pack must be a mapping")]
    try:
        pack = PolicyPack.model_validate(data)
    except ValidationError as exc:
        errors += _errors(exc, (), lines)
    rules = data.get("rules") if isinstance(data.get("rules"), list) else []
    ladders = data.get("ladders") if isinstance(data.get("ladders"), dict) else {}
    notices = data.get("notices") if isinstance(data.get("notices"), dict) else {}
    errors += _check_ladders(ladders, lines)
    seen_ids: set[str] = set()
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        rid = rule.get("id")
        if isinstance(rid, str) and rid in seen_ids:
            line, col = _line_of(("rules", i, "id"), lines)
            errors.append(PolicyError(line, col, format_path(("rules", i, "id")), f"规则编号重复 {rid!r}",
                                      f"duplicate rule id {rid!r}"))
        seen_ids.add(rid) if isinstance(rid, str) else None
        name = rule.get("detector")
        if isinstance(name, str) and name not in registry:
            line, col = _line_of(("rules", i, "detector"), lines)
            errors.append(PolicyError(line, col, format_path(("rules", i, "detector")),
                                      f"未知的检测器 {name!r}", f"unknown detector {name!r}; known: "
                                      + ", ".join(sorted(registry))))
        elif isinstance(name, str):
            try:
                registry[name].params.model_validate(rule.get("params") or {})
            except ValidationError as exc:
                errors += _errors(exc, ("rules", i, "params"), lines)
        for field, known, zh, en in (("ladder", ladders, "未定义的升级梯度", "undefined ladder"),
                                     ("notice", notices, "未定义的通知模板", "undefined notice template")):
            ref = rule.get(field)
            if ref is not None and ref not in known:
                line, col = _line_of(("rules", i, field), lines)
                errors.append(PolicyError(line, col, format_path(("rules", i, field)), f"{zh} {ref!r}", f"{en} {ref!r}"))
    errors = sorted(set(errors), key=lambda e: (e.line or 0, e.column or 0, e.path, e.zh))
    return (pack if not errors else None), errors


def _ladder_model() -> type[BaseModel]:
    """The penalties ladder model when present, else a permissive one (steps required)."""
    try:
        from services.penalties.ladder import LadderSpec
        return LadderSpec
    except ImportError:  # pragma: no cover - penalties ships with the same distribution
        return create_model("PermissiveLadder", __config__=ConfigDict(extra="allow"), steps=(list, ...))


def _check_ladders(ladders: dict[str, Any], lines: dict[Loc, tuple[int, int]]) -> list[PolicyError]:
    model = _ladder_model()
    errors: list[PolicyError] = []
    for name, body in ladders.items():
        if not isinstance(body, dict):
            line, col = _line_of(("ladders", name), lines)
            errors.append(PolicyError(line, col, f"ladders.{name}", "必须是映射（键: 值）", "must be a mapping"))
            continue
        try:
            model.model_validate({"name": name, **body} if "name" in model.model_fields else body)
        except ValidationError as exc:
            errors += _errors(exc, ("ladders", name), lines)
    return errors


def check_text(text: str) -> tuple[PolicyPack | None, list[PolicyError]]:
    data, lines, errors = parse_yaml(text)
    if data is None and errors:
        return None, errors
    pack, more = check_data(data, lines)
    all_errors = sorted(set(errors + more), key=lambda e: (e.line or 0, e.column or 0, e.path))
    return (pack if not all_errors else None), all_errors


def load_pack(path: str | Path) -> PolicyPack:
    """A valid pack from a YAML file, or ``PolicyInvalid`` listing every error."""
    pack, errors = check_text(Path(path).read_text(encoding="utf-8"))
    if errors or pack is None:
        raise PolicyInvalid(errors, str(path))
    return pack


def pack_document(pack: PolicyPack) -> dict[str, Any]:
    """The canonical JSON-ready document of a pack (what ``PolicyPublished.pack`` carries)."""
    return pack.model_dump(mode="json", exclude_defaults=False)
