"""Consumer-group assignment for the embedded log: who should read which partition (pure).

The embedded log has no coordinator process, so members agree through the database: each member
writes a heartbeat row, and every member computes the *same* desired assignment from the same list
of live members with :func:`assign`. A partition changes hands only after its current owner has
released it (at its next poll) or its lease has expired, so two live members never read the same
partition at once; that is what lets a group that commits before each poll see every record once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.common.eventlog.base import TopicPartition


@dataclass(frozen=True)
class Member:
    member_id: str
    topics: frozenset[str]


def assign(partitions: Mapping[str, int], members: Sequence[Member]) -> dict[TopicPartition, str]:
    """Desired owner per partition: round-robin over the members subscribed to each topic.

    ``members`` must be in a stable order agreed by everyone (join order). The round-robin counter
    runs across topics so that single-partition topics do not all land on the first member.
    """
    result: dict[TopicPartition, str] = {}
    turn = 0
    for topic in sorted(partitions):
        subscribers = [m.member_id for m in members if topic in m.topics]
        if not subscribers:
            continue
        for partition in range(partitions[topic]):
            result[TopicPartition(topic, partition)] = subscribers[turn % len(subscribers)]
            turn += 1
    return result


@dataclass(frozen=True)
class Handover:
    """What one member must do after comparing the desired assignment with current owners."""

    release: frozenset[TopicPartition]
    take: frozenset[TopicPartition]
    waiting: frozenset[TopicPartition]


def plan_handover(me: str, desired: Mapping[TopicPartition, str],
                  owners: Mapping[TopicPartition, str]) -> Handover:
    """Release what is no longer mine, take what is mine and free, wait for what another still holds."""
    release = {tp for tp, owner in owners.items() if owner == me and desired.get(tp) != me}
    mine = {tp for tp, owner in desired.items() if owner == me}
    take = {tp for tp in mine if tp not in owners}
    waiting = {tp for tp in mine if owners.get(tp, me) != me}
    return Handover(frozenset(release), frozenset(take), frozenset(waiting))
