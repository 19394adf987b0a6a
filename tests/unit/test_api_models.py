"""The API's request models against what the node's own validation knows."""

from __future__ import annotations

import re
import typing

from proml.core.workflow import TRANSITIONS, Role
from proml.node.api import models


def test_a_record_request_names_exactly_the_activities_of_the_state_machines() -> None:
    declared = set(typing.get_args(models.RecordActivity))
    assert declared == {activity.name.lower() for kind in TRANSITIONS.values() for activity in kind}


def test_a_membership_proposal_names_exactly_the_roles_of_the_registry() -> None:
    assert set(typing.get_args(models.RoleName)) == {role.name.lower() for role in Role}


def test_every_pattern_is_said_in_words_when_it_refuses() -> None:
    patterns = {
        value for name, value in vars(models).items() if name.endswith("_PATTERN") and isinstance(value, str)
    }
    assert patterns == set(models.PATTERN_MEANINGS)  # ADDRESS_PATTERN among them, from proml.contracts
    for pattern in patterns:
        re.compile(pattern)
