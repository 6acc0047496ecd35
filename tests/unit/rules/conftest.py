from __future__ import annotations

import pytest

from tests.unit.rules.world import MONDAY, World


def staff(world: World) -> World:
    """张总 (executive), 王经理 (head of 销售部), 李主任 (head of 行政中心), 刘洋 and 陈晨 (sales staff)."""
    world.dept("D-SALES", "销售部", head="E0010")
    world.dept("D-ADMIN", "行政中心", head="E0002")
    world.hire("E0001", "张伟", account="zhangzong", dept="D-GM", dept_name="总经办", level="executive")
    world.hire("E0010", "王强", account="wangjl", level="manager")
    world.hire("E0002", "李娜", account="lizr", dept="D-ADMIN", dept_name="行政中心", level="manager")
    world.hire("E0100", "刘洋", account="liuyang")
    world.hire("E0101", "陈晨", account="chenchen")
    world.register("sales", "天高集团销售部工作群", "department", owner="E0010", admins=["E0101"], dept="D-SALES")
    world.register("all", "天高集团全员群", "company", owner="E0001", dept=None)
    for user in ("zhangzong", "wangjl", "lizr", "liuyang", "chenchen"):
        world.join("sales", user, MONDAY.replace(day=1, month=2))
        world.join("all", user, MONDAY.replace(day=1, month=2))
    return world


@pytest.fixture
def company() -> World:
    return staff(World())
