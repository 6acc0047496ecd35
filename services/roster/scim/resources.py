"""SCIM resource models (scim2-models) and the discovery documents served under ``/scim/v2``.

Why our own enterprise extension class: scim2-models marks ``manager.$ref`` as required, but Okta
and Entra ID send ``manager: {"value": "…"}`` without it; the schema we publish must describe what
we accept, so ``$ref`` is optional here (RFC 7643 §8.7.1 lists it without ``"required": true``).

Why the roster dates are SCIM ``dateTime``: RFC 7643 §2.3 has no date type, and a ``string``
attribute promises to take any string, which a hire date cannot. So they are published as
``dateTime`` (answered as midnight China time, ``2025-02-17T00:00:00+08:00``) and accept what HR
systems actually send: ``YYYY-MM-DD``, or any xsd:dateTime (taken as its date in China time).
Closed value sets (level, status, platform) are published as ``canonicalValues``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field
from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    CaseExact,
    ChangePassword,
    ComplexAttribute,
    Context,
    ETag,
    Extension,
    Filter,
    Group,
    Mutability,
    Patch,
    Reference,
    Required,
    ResourceType,
    ScimPolicy,
    ServiceProviderConfig,
    Sort,
    User,
)

ROSTER_URN = "urn:qunguard:params:scim:schemas:extension:roster:2.0:User"
GROUP_URN = "urn:qunguard:params:scim:schemas:extension:roster:2.0:Group"
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MAX_RESULTS = 200


class Manager(ComplexAttribute):
    value: Annotated[str | None, CaseExact.true] = None
    """The id (or the employee number) of the User's manager."""

    ref: Annotated[Reference[User] | None, Mutability.read_write] = Field(  # type: ignore[type-arg]
        None, serialization_alias="$ref", validation_alias="$ref")
    """The URI of the SCIM resource representing the User's manager."""

    display_name: Annotated[str | None, Mutability.read_only] = None


class EnterpriseUser(Extension):
    """RFC 7643 §4.3 enterprise extension (employeeNumber, department, manager, …)."""

    __schema__ = URN(ENTERPRISE_URN)
    employee_number: str | None = None
    cost_center: str | None = None
    organization: str | None = None
    division: str | None = None
    department: str | None = None
    manager: Manager | None = None


def _date_as_midnight(value: Any) -> Any:
    """``2025-02-17`` (or a ``date``) → midnight of that day in China; anything else as sent."""
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=CHINA)
    return value


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=CHINA) if value is not None and value.tzinfo is None else value


# The validators wrap the optional type (not the other way round) so pydantic lifts them into the
# field's metadata and scim2-models sees a plain ``datetime`` when it writes the schema.
HrDate = Annotated[datetime | None, BeforeValidator(_date_as_midnight), AfterValidator(_aware)]
"""A calendar date from HR, carried as a SCIM dateTime (see the module docstring)."""


def local_date(value: datetime | None) -> date | None:
    """The calendar date in China of an :data:`HrDate` (what the roster facts keep)."""
    return value.astimezone(CHINA).date() if value is not None else None


LEVELS = ["staff", "manager", "executive"]
STATUSES = ["probation", "intern", "regular", "departed"]
PLATFORMS = ["qq", "dingtalk", "wecom", "feishu", "wechat", "other"]


class PlatformAccount(ComplexAttribute):
    """An account of the person on a chat platform."""

    platform: Annotated[Literal["qq", "dingtalk", "wecom", "feishu", "wechat", "other"] | None,
                        Required.true] = Field(None, examples=PLATFORMS)
    """qq | dingtalk | wecom | feishu | wechat | other."""
    value: Annotated[str | None, Required.true, CaseExact.true] = None
    """The platform's user id: QQ number, DingTalk staff id, WeCom userid, Feishu open_id, WeChat id."""


class RosterUser(Extension):
    """Qunguard's extension: what the group rules need beyond the enterprise extension."""

    __schema__ = URN(ROSTER_URN)
    level: Literal["staff", "manager", "executive"] | None = Field(None, examples=LEVELS)
    """staff | manager | executive."""
    status: Literal["probation", "intern", "regular", "departed"] | None = Field(None, examples=STATUSES)
    """probation | intern | regular | departed. active=false also means departed."""
    hire_date: HrDate = None
    """Date of hire (YYYY-MM-DD or a dateTime; its date in China time counts)."""
    leave_date: HrDate = None
    """Last working day after a departure (YYYY-MM-DD or a dateTime; its date in China time counts)."""
    handover_date: HrDate = None
    """Date by which duties pass to the successor after a transfer (YYYY-MM-DD or a dateTime)."""
    accounts: list[PlatformAccount] | None = None
    """Chat platform accounts of the person."""


class DepartmentHead(ComplexAttribute):
    """The head of a department: rules ask the head to answer escalated questions within the SLA."""

    value: Annotated[str | None, CaseExact.true] = None
    """The head's employee id (工号), or the head's SCIM User id."""

    ref: Annotated[Reference["User"] | None, Mutability.read_write] = Field(  # type: ignore[type-arg]
        None, serialization_alias="$ref", validation_alias="$ref")
    """The URI of the SCIM User who heads the department."""


class ParentDepartment(ComplexAttribute):
    """The department this one belongs to."""

    value: Annotated[str | None, CaseExact.true] = None
    """The parent's SCIM Group id (or the name of a department the roster knows)."""

    ref: Annotated[Reference["Group"] | None, Mutability.read_write] = Field(  # type: ignore[type-arg]
        None, serialization_alias="$ref", validation_alias="$ref")
    """The URI of the parent SCIM Group."""


class RosterGroup(Extension):
    """Qunguard's extension of a Group (a department): its head and its parent department."""

    __schema__ = URN(GROUP_URN)
    head: DepartmentHead | None = None
    """The department head (employee id or SCIM User id)."""
    parent: ParentDepartment | None = None
    """The parent department (SCIM Group id)."""


ScimUser = User[EnterpriseUser | RosterUser]
ScimGroup = Group[RosterGroup]

# Tolerances every identity provider we know of needs, none of which can confuse two payloads:
# attributes we do not model are dropped (Okta sends ``password``-less extras, Entra ``roles: []``),
# a PATCH remove with a value selects members (Entra), a filtered add creates the entry (Entra).
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


def service_provider_config(base_url: str) -> dict[str, Any]:
    spc = ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=True),
        authentication_schemes=[AuthenticationScheme(
            type="oauthbearertoken", name="OAuth Bearer Token", primary=True,
            description="Bearer token with the hr role (QG_TOKENS). / 持 hr 角色的 Bearer 令牌。")],
    )
    doc = spc.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    doc["meta"] = {"resourceType": "ServiceProviderConfig", "location": f"{base_url}/ServiceProviderConfig"}
    return doc


def resource_types(base_url: str) -> list[dict[str, Any]]:
    out = []
    for model, name, description in ((ScimUser, "User", "员工 / Employee"),
                                     (ScimGroup, "Group", "部门 / Department")):
        rt = ResourceType.from_resource(model)
        rt.description = description
        doc = rt.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        doc["meta"] = {"resourceType": "ResourceType", "location": f"{base_url}/ResourceTypes/{name}"}
        out.append(doc)
    return out


def schemas(base_url: str) -> list[dict[str, Any]]:
    out = []
    for model in (User, EnterpriseUser, RosterUser, Group, RosterGroup):
        doc = model.to_schema().model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        doc["meta"] = {"resourceType": "Schema", "location": f"{base_url}/Schemas/{doc['id']}"}
        if model is RosterUser:
            doc["name"], doc["description"] = "RosterUser", "Qunguard roster extension / 群规花名册扩展"
        if model is RosterGroup:
            doc["name"], doc["description"] = "RosterGroup", "Qunguard department extension / 部门负责人与上级部门"
        out.append(doc)
    return out
