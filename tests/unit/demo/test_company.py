"""The sample company: deterministic, big enough, and acceptable to the roster service as sent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scim2_models import Context

from services.demo.company import generate_company
from services.demo.payloads import group_registrations, scim_users
from services.roster.registry import GroupRegistration
from services.roster.scim.facts import facts_of
from services.roster.scim.resources import POLICY, ScimUser

pytestmark = pytest.mark.unit


def test_same_seed_gives_the_same_company_and_another_seed_a_different_one():
    assert generate_company(5) == generate_company(5)
    assert [e.name for e in generate_company(5).employees] != [e.name for e in generate_company(6).employees]


def test_company_has_two_hundred_people_in_eight_departments_with_heads_and_executives():
    c = generate_company()
    assert len(c.employees) >= 200
    assert len({e.department for e in c.employees}) >= 8
    levels = {e.level for e in c.employees}
    assert levels == {"staff", "manager", "executive"}
    assert {e.status for e in c.employees} >= {"regular", "probation", "intern"}
    assert c.employee("E0001").title == "总经理" and c.employee("E0002").department == "行政中心"
    for dept, head in c.heads.items():
        assert c.employee(head).department == dept and c.employee(head).is_leader


def test_groups_cover_every_category_on_at_least_three_platforms():
    c = generate_company()
    assert len(c.groups) >= 20
    assert {g.category for g in c.groups} == {"company", "management", "department", "project", "external"}
    assert len(c.platforms) >= 3
    temporary = [g for g in c.groups if g.lifetime == "temporary"]
    assert temporary and all(g.end_date for g in temporary)
    assert any(g.end_date < c.as_of for g in temporary), "one expired project group for the temp rule"


def test_every_group_is_named_after_the_company_and_has_at_most_two_admins():
    for g in generate_company().groups:
        assert g.name.startswith("天高") and len(g.admin_ids) <= 2
        assert g.owner_id in g.members


def test_platform_accounts_are_unique_per_platform():
    c = generate_company()
    for platform in ("qq", "dingtalk", "wecom", "feishu"):
        ids = [e.accounts[platform] for e in c.employees]
        assert len(ids) == len(set(ids))


def test_scim_users_validate_with_the_roster_model_and_map_to_the_expected_facts():
    c = generate_company()
    now = datetime(2025, 3, 3, tzinfo=UTC)
    for body, e in zip(scim_users(c), c.employees):
        user = ScimUser.model_validate(body, scim_ctx=Context.RESOURCE_CREATION_REQUEST, scim_policy=POLICY)
        facts = facts_of(user, lambda name: name, now)
        assert (facts.name, facts.department, facts.level, facts.status) == (e.name, e.department, e.level, e.status)
        assert {(a.platform, a.user_id) for a in facts.accounts} == set(e.accounts.items())
        assert facts.hire_date is None, "initial load leaves hireDate out (see payloads docstring)"


def test_group_registrations_validate_with_the_registry_model():
    regs = [GroupRegistration.model_validate(body) for body in group_registrations(generate_company())]
    assert {r.category for r in regs} == {"company", "management", "department", "project", "external"}
    assert all(r.end_date for r in regs if r.lifetime == "temporary")
