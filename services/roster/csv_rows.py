"""Reading an HR roster CSV (pure): headers in Chinese or English, one row per employee.

The result is either a list of parsed rows or a precise error report (row number as a spreadsheet
shows it, the column as the file spells it, a message in Chinese first). Only the columns present
in the file are applied: a file without a 职级 column keeps everyone's level; an empty cell in a
present column clears an optional value (an empty QQ cell unlinks the QQ account).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

# field name → accepted headers (compared after stripping spaces and case-folding)
HEADERS: dict[str, tuple[str, ...]] = {
    "employee_id": ("工号", "员工编号", "员工工号", "employee_id", "employeeid", "employee_number", "employeenumber"),
    "name": ("姓名", "名字", "name", "full_name"),
    "department": ("部门", "所属部门", "department", "dept"),
    "level": ("职级", "级别", "level"),
    "status": ("状态", "员工状态", "在职状态", "status"),
    "title": ("职位", "岗位", "职务", "title", "position"),
    "hire_date": ("入职日期", "入职时间", "hire_date", "hiredate"),
    "leave_date": ("离职日期", "离职时间", "leave_date", "leavedate"),
    "handover_date": ("交接日期", "交接截止日期", "handover_date", "handoverdate"),
    "manager_id": ("上级工号", "直属上级工号", "主管工号", "manager_id", "managerid", "manager"),
    "mobile": ("手机", "手机号", "手机号码", "mobile", "phone"),
    "qq": ("qq", "qq号", "qq号码"),
    "dingtalk": ("钉钉", "钉钉id", "钉钉userid", "dingtalk"),
    "wecom": ("企业微信", "企业微信id", "企微", "wecom"),
    "feishu": ("飞书", "飞书open_id", "飞书id", "feishu"),
    "wechat": ("微信", "微信号", "wechat"),
}
PLATFORMS = ("qq", "dingtalk", "wecom", "feishu", "wechat")
REQUIRED = ("employee_id", "name")

LEVELS = {"staff": "staff", "员工": "staff", "普通员工": "staff", "职员": "staff", "专员": "staff",
          "manager": "manager", "经理": "manager", "主管": "manager", "组长": "manager", "部门经理": "manager",
          "executive": "executive", "高管": "executive", "总监": "executive", "副总": "executive",
          "总经理": "executive", "副总经理": "executive", "董事长": "executive"}
STATUSES = {"probation": "probation", "试用": "probation", "试用期": "probation",
            "intern": "intern", "实习": "intern", "实习生": "intern",
            "regular": "regular", "正式": "regular", "在职": "regular", "转正": "regular", "正式员工": "regular",
            "departed": "departed", "离职": "departed", "已离职": "departed"}

_DATE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_QQ = re.compile(r"^[1-9]\d{4,11}$")


@dataclass(frozen=True)
class RowError:
    row: int
    column: str | None
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class Row:
    """One parsed row: only the fields whose columns the file has (``values``), plus accounts."""

    number: int
    employee_id: str
    values: dict[str, object] = field(default_factory=dict)
    accounts: dict[str, str | None] = field(default_factory=dict)


@dataclass
class Parsed:
    rows: list[Row]
    errors: list[RowError]
    columns: dict[str, str]
    ignored_columns: list[str]


def decode(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes), else GB18030 (Excel on Chinese Windows)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _key(header: str) -> str:
    return re.sub(r"[\s_\-（）()]", "", header).casefold()


_LOOKUP = {_key(alias): name for name, aliases in HEADERS.items() for alias in aliases}


def parse_date(text: str) -> date | None:
    match = _DATE.match(text)
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def parse(text: str) -> Parsed:
    """Parse and validate every row; all errors are collected, none stops the reading."""
    # newline="": a bare CR ends a line too (CSV saved by Excel for Mac uses CR line endings).
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _parse_rows(reader)
    except csv.Error as exc:  # e.g. a stray CR inside an unquoted cell: the caller gets a row error, not a 500
        return Parsed([], [RowError(max(reader.line_num, 1), None, f"CSV 格式错误 / malformed CSV: {exc}")], {}, [])


def _parse_rows(reader: Iterator[list[str]]) -> Parsed:
    header = next(reader, None)
    errors: list[RowError] = []
    if not header:
        return Parsed([], [RowError(1, None, "文件为空 / the file is empty")], {}, [])
    columns: dict[str, str] = {}
    positions: dict[str, int] = {}
    ignored = []
    for index, raw in enumerate(header):
        name = _LOOKUP.get(_key(raw))
        if name is None:
            if raw.strip():
                ignored.append(raw.strip())
        elif name in positions:
            errors.append(RowError(1, raw, f"列重复 / duplicate column for {name}"))
        else:
            columns[name], positions[name] = raw.strip(), index
    for name in REQUIRED:
        if name not in positions:
            errors.append(RowError(1, HEADERS[name][0], f"缺少必需列「{HEADERS[name][0]}」/ missing column {name}"))
    if errors:
        return Parsed([], errors, columns, ignored)
    rows: list[Row] = []
    every: list[Row] = []  # rows with errors too: a duplicate account is reported even on a bad row
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        cell = {name: (cells[i].strip() if i < len(cells) else "") for name, i in positions.items()}
        row, row_errors = _row(number, cell, columns)
        errors.extend(row_errors)
        if row is not None:
            every.append(row)
            if not row_errors:
                rows.append(row)
    errors.extend(_cross_row(every, columns))
    return Parsed(rows, sorted(errors, key=lambda e: (e.row, e.column or "")), columns, ignored)


def _row(number: int, cell: dict[str, str], columns: dict[str, str]) -> tuple[Row | None, list[RowError]]:
    errors: list[RowError] = []

    def err(name: str, message: str) -> None:
        errors.append(RowError(number, columns.get(name, name), message))

    if not cell["employee_id"]:
        err("employee_id", "工号不能为空 / employee id is required")
        return None, errors
    row = Row(number, cell["employee_id"])
    if not cell["name"]:
        err("name", "姓名不能为空 / name is required")
    row.values["name"] = cell["name"]
    for name in ("department", "title", "manager_id"):
        if name in cell:
            row.values[name] = cell[name] or None
    if cell.get("level"):
        level = LEVELS.get(cell["level"].casefold())
        if level is None:
            err("level", f"职级「{cell['level']}」无法识别，应为 员工/经理/高管 / unknown level")
        row.values["level"] = level
    if cell.get("status"):
        status = STATUSES.get(cell["status"].casefold())
        if status is None:
            err("status", f"状态「{cell['status']}」无法识别，应为 试用/实习/正式/离职 / unknown status")
        row.values["status"] = status
    for name in ("hire_date", "leave_date", "handover_date"):
        if name in cell:
            value = parse_date(cell[name]) if cell[name] else None
            if cell[name] and value is None:
                err(name, f"日期「{cell[name]}」格式错误，应为 YYYY-MM-DD / invalid date")
            row.values[name] = value
    if cell.get("mobile"):
        mobile = re.sub(r"[\s-]", "", cell["mobile"]).removeprefix("+86")
        if not _MOBILE.match(mobile):
            err("mobile", f"手机号「{cell['mobile']}」无效 / invalid mainland mobile number")
        row.values["mobile"] = mobile
    elif "mobile" in cell:
        row.values["mobile"] = None
    for platform in PLATFORMS:
        if platform in cell:
            value = cell[platform] or None
            if platform == "qq" and value and not _QQ.match(value):
                err(platform, f"QQ 号「{value}」无效 / invalid QQ number")
            row.accounts[platform] = value
    _check_dates(row, err)
    return row, errors


def _check_dates(row: Row, err) -> None:
    hire, leave = row.values.get("hire_date"), row.values.get("leave_date")
    status = row.values.get("status")
    if isinstance(hire, date) and isinstance(leave, date) and leave < hire:
        err("leave_date", "离职日期早于入职日期 / leave date is before hire date")
    if leave and status and status != "departed":
        err("status", "填写了离职日期但状态不是离职 / leave date given but status is not departed")


def _cross_row(rows: list[Row], columns: dict[str, str]) -> list[RowError]:
    """Duplicates inside the file: one row per employee, one person per account."""
    errors: list[RowError] = []
    first_by_id: dict[str, int] = {}
    owner: dict[tuple[str, str], Row] = {}
    for row in rows:
        if row.employee_id in first_by_id:
            errors.append(RowError(row.number, columns["employee_id"],
                                   f"工号 {row.employee_id} 与第 {first_by_id[row.employee_id]} 行重复 / duplicate employee id"))
        else:
            first_by_id[row.employee_id] = row.number
        for platform, value in row.accounts.items():
            if not value:
                continue
            other = owner.setdefault((platform, value), row)
            if other is not row:
                errors.append(RowError(row.number, columns[platform],
                                       f"账号 {value} 与第 {other.number} 行（工号 {other.employee_id}）重复 / "
                                       f"account already used by another row"))
    return errors
