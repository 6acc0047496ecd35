"""Qunguard's event contracts: defined once here, generated into schemas/ and asyncapi.yaml.

Importing this package registers every payload type in ``contracts.base.REGISTRY``.
"""

from contracts import chat, clock, deadletter, enforcement, policy, roster, sanctions, violations  # noqa: F401
from contracts.base import REGISTRY, Payload, group_ref, user_ref  # noqa: F401
from contracts.envelope import CloudEvent, EnvelopeError, decode, new_event  # noqa: F401
