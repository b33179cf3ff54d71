"""The order in which a composite request's subrequests run (rule ``collate_subrequests``).

REST API guide, "Composite Request Body": ``collateSubrequests`` (default **true** from API 49.0) lets
Salesforce collate unrelated subrequests to bulkify them; then "the order of execution is not
guaranteed (unless there is an explicit dependency between the subrequests)". With ``false`` they run
in the order sent. Subrequests that carry HTTP headers are not collated. Only sObject resources
collate (same HTTP method, same object). Composite graph nodes are collated the same way (the graph
guide, "Composite Subrequest": "Subrequests that contain valid HTTP headers can't be collated"; nodes
of a graph are counted by HTTP method and object for the same reason), and a graph has no switch.

The stand-in emulates collation deterministically, so that a test can rely on the order:

1. a subrequest's *level* is 0 without references, else one more than the highest level of the earlier
   subrequests it references (``@{ref...}`` in its URL or body): it always runs after them;
2. level by level, subrequests are grouped by (HTTP method, object), and the groups of a level run in
   the **reverse** order of their first subrequest; a group runs its subrequests in the order sent;
3. a subrequest that is not collated — one with ``httpHeaders``, a query, an sObject Collections
   subrequest — runs on its own where it was sent: the collatable subrequests before it run before it,
   those after it after it (steps 1 and 2 apply to each run of collatable subrequests).

So independent writes to different objects (or with different methods) run in an order other than
the one sent, and two PATCHes of one object run one after the other, not around the writes sent
between them. Answers still come back in the order sent.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote, urlsplit

_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)")


def execution_order(requests: list[dict[str, Any]], *, collate: bool) -> list[int]:
    """Indexes of ``requests`` in the order they run."""
    if not collate:
        return list(range(len(requests)))
    order: list[int] = []
    run: list[int] = []  # consecutive collatable subrequests
    for index, item in enumerate(requests):
        if _collatable(item):
            run.append(index)
            continue
        order.extend(_collated(requests, run))
        run = []
        order.append(index)  # not collated: runs on its own, where it was sent
    order.extend(_collated(requests, run))
    return order


def _collated(requests: list[dict[str, Any]], run: list[int]) -> list[int]:
    """A run of collatable subrequests: level by level, (method, object) groups in reverse order."""
    position = {requests[index].get("referenceId"): index for index in run}
    levels: dict[int, int] = {}
    for index in run:
        text = json.dumps([requests[index].get("url"), requests[index].get("body")], default=str)
        parents = [
            levels[position[name]] for name in _REFERENCE.findall(text) if name in position and position[name] < index
        ]
        levels[index] = 1 + max(parents, default=-1)
    order: list[int] = []
    for level in sorted(set(levels.values())):
        groups: dict[tuple[str, str], list[int]] = {}  # in the order of each group's first subrequest
        for index in run:
            if levels[index] == level:
                groups.setdefault(_group_key(requests[index]), []).append(index)
        for members in reversed(list(groups.values())):
            order.extend(members)
    return order


def _segments(item: dict[str, Any]) -> list[str]:
    return [unquote(part) for part in urlsplit(str(item.get("url", ""))).path.split("/") if part]


def _collatable(item: dict[str, Any]) -> bool:
    """An sObject subrequest (/services/data/vXX.X/sobjects/{Object}...) without HTTP headers."""
    segments = _segments(item)
    return not item.get("httpHeaders") and len(segments) >= 5 and segments[3] == "sobjects"


def _group_key(item: dict[str, Any]) -> tuple[str, str]:
    return str(item.get("method", "")).upper(), _segments(item)[4].lower()
