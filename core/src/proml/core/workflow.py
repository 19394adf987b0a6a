"""The workflow's names and its state machines: activities, asset kinds, states, roles, and one table of
the transitions of the two asset kinds.

This is the specification that the contracts implement, that the tests drive them with, and that
docs/contracts.md shows (a test checks that the document holds exactly `markdown_table()`). It lives in the
core, beside the record document that names its activities, because the SDK, the CLI and the node all
speak these names and none of them should need the contracts' ABI stack to do so. The numbers are those of
contracts/solidity/ProvenanceTypes.sol; the contract tests drive the contracts with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Activity(IntEnum):
    """The `activity` number in `ProvenanceRecorded`, as in ProvenanceTypes.sol."""

    REGISTER = 0
    COLLECT = 1
    LABEL = 2
    PREPROCESS = 3
    PUBLISH = 4
    DEPRECATE = 5
    SELECT_DATA = 6
    ENGINEER_FEATURES = 7
    TRAIN = 8
    EVALUATE = 9
    VALIDATE = 10
    DEPLOY = 11
    RETIRE = 12
    ROLLBACK = 13
    ANCHOR = 14


class AssetKind(IntEnum):
    NONE = 0
    DATASET = 1
    MODEL = 2


# The names that requests, record payloads and the index give the two kinds of asset.
ASSET_KINDS: dict[str, AssetKind] = {"dataset": AssetKind.DATASET, "model": AssetKind.MODEL}


class MemberStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2


class ProposalKind(IntEnum):
    ADD_MEMBER = 0
    SUSPEND_MEMBER = 1
    CHANGE_ROLES = 2
    CHANGE_THRESHOLD = 3


class DatasetState(IntEnum):
    REGISTERED = 0
    COLLECTED = 1
    LABELLED = 2
    PREPROCESSED = 3
    PUBLISHED = 4
    DEPRECATED = 5


class ModelState(IntEnum):
    REGISTERED = 0
    DATA_SELECTED = 1
    PREPROCESSED = 2
    FEATURES_ENGINEERED = 3
    TRAINED = 4
    EVALUATED = 5
    VALIDATED = 6
    DEPLOYED = 7
    RETIRED = 8


class Role(IntEnum):
    DATA_ADMIN = 1
    MODEL_DEVELOPER = 2
    VALIDATOR = 4
    AUDITOR = 8


ALL_ROLES = Role.DATA_ADMIN | Role.MODEL_DEVELOPER | Role.VALIDATOR | Role.AUDITOR


@dataclass(frozen=True)
class Transition:
    """An activity's rule: the states it is accepted from, and the state it leads to."""

    activity: Activity
    allowed_from: frozenset[int]
    to_state: int
    function: str


def _states_from(first: int, last: int) -> frozenset[int]:
    return frozenset(range(first, last + 1))


_D = DatasetState
_M = ModelState

DATASET_TRANSITIONS: dict[Activity, Transition] = {
    t.activity: t
    for t in (
        Transition(Activity.COLLECT, _states_from(_D.REGISTERED, _D.PUBLISHED), _D.COLLECTED, "collect"),
        Transition(Activity.LABEL, _states_from(_D.COLLECTED, _D.PUBLISHED), _D.LABELLED, "label"),
        Transition(
            Activity.PREPROCESS, _states_from(_D.COLLECTED, _D.PUBLISHED), _D.PREPROCESSED, "preprocess"
        ),
        Transition(Activity.PUBLISH, _states_from(_D.PREPROCESSED, _D.PUBLISHED), _D.PUBLISHED, "publish"),
        Transition(Activity.DEPRECATE, _states_from(_D.REGISTERED, _D.PUBLISHED), _D.DEPRECATED, "deprecate"),
    )
}

MODEL_TRANSITIONS: dict[Activity, Transition] = {
    t.activity: t
    for t in (
        Transition(
            Activity.SELECT_DATA, _states_from(_M.REGISTERED, _M.DEPLOYED), _M.DATA_SELECTED, "selectData"
        ),
        Transition(
            Activity.PREPROCESS, _states_from(_M.DATA_SELECTED, _M.DEPLOYED), _M.PREPROCESSED, "preprocess"
        ),
        Transition(
            Activity.ENGINEER_FEATURES,
            _states_from(_M.PREPROCESSED, _M.DEPLOYED),
            _M.FEATURES_ENGINEERED,
            "engineerFeatures",
        ),
        Transition(Activity.TRAIN, _states_from(_M.FEATURES_ENGINEERED, _M.DEPLOYED), _M.TRAINED, "train"),
        Transition(Activity.EVALUATE, _states_from(_M.TRAINED, _M.DEPLOYED), _M.EVALUATED, "evaluate"),
        Transition(Activity.VALIDATE, _states_from(_M.EVALUATED, _M.DEPLOYED), _M.VALIDATED, "validate"),
        Transition(Activity.DEPLOY, _states_from(_M.VALIDATED, _M.DEPLOYED), _M.DEPLOYED, "deploy"),
        Transition(Activity.RETIRE, _states_from(_M.REGISTERED, _M.DEPLOYED), _M.RETIRED, "retire"),
    )
}

TRANSITIONS: dict[AssetKind, dict[Activity, Transition]] = {
    AssetKind.DATASET: DATASET_TRANSITIONS,
    AssetKind.MODEL: MODEL_TRANSITIONS,
}

STATES: dict[AssetKind, type[IntEnum]] = {AssetKind.DATASET: DatasetState, AssetKind.MODEL: ModelState}

# Roles an activity needs beyond being the owner or a contributor: validation needs VALIDATOR and
# nothing else, so that a third party can validate a model it neither owns nor contributes to.
ROLE_ACTIVITIES: dict[Activity, Role] = {Activity.VALIDATE: Role.VALIDATOR}

# Which role registering each kind needs.
REGISTRATION_ROLES: dict[AssetKind, Role] = {
    AssetKind.DATASET: Role.DATA_ADMIN,
    AssetKind.MODEL: Role.MODEL_DEVELOPER,
}


def next_state(kind: AssetKind, activity: Activity, state: int) -> tuple[bool, int]:
    """(accepted, new state) of `activity` from `state`; a rejected record leaves the state as it is."""
    rule = TRANSITIONS[kind][activity]
    if state in rule.allowed_from:
        return True, rule.to_state
    return False, state


def _state_label(state: IntEnum) -> str:
    return "".join(part.capitalize() for part in state.name.split("_"))


def markdown_table(kind: AssetKind) -> str:
    """The transition table of `kind` as Markdown: one row per activity, one column per state."""
    states = list(STATES[kind])
    header = "| activity (function) | " + " | ".join(_state_label(s) for s in states) + " | leads to |"
    rule_line = "|---|" + "---|" * len(states) + "---|"
    rows = [header, rule_line]
    for rule in TRANSITIONS[kind].values():
        cells = ["✓" if s in rule.allowed_from else "·" for s in states]
        target = _state_label(STATES[kind](rule.to_state))
        rows.append(f"| `{rule.function}` | " + " | ".join(cells) + f" | {target} |")
    return "\n".join(rows) + "\n"
