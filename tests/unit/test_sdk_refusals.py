"""Why the chain refused a write, in the SDK's words (proml.sdk.refusals): who may do it instead."""

from __future__ import annotations

from typing import Any

from proml.sdk import NotFound
from proml.sdk.refusals import refused


class _Index:
    """The one read `refused` makes: the asset's summary, as the node's index answers it."""

    def __init__(self, summary: dict[str, Any] | None) -> None:
        self.summary = summary
        self.paths: list[str] = []

    def get(self, path: str, **_: Any) -> Any:
        self.paths.append(path)
        if self.summary is None:
            raise NotFound("not indexed", status=404, code="unknown_asset")
        return self.summary


def test_a_not_owner_or_contributor_refusal_names_the_owner_and_contributors_not_roles() -> None:
    b, c, model = "0x" + "bb" * 20, "0x" + "cc" * 20, "0x" + "12" * 20
    view = {"id": "ab12", "asset": model, "activity": "train",
            "error": f"the chain refuses it: NotOwnerOrContributor(account={b})"}  # fmt: skip
    index = _Index({"address": model, "owner": c, "owner_name": "C"})
    error = refused(index, view)
    assert error.revert == "NotOwnerOrContributor"
    assert index.paths == [f"/v1/assets/{model}"]
    message = str(error)
    assert f"Only the owner of {model} and its contributors may record train on it" in message
    assert (
        f"and {b} is neither: the owner, C ({c}), can make it a contributor with addContributor({b})"
        in message
    )
    assert "member list" not in message
    assert "its owner (`proml dataset|model show` names it)" in str(refused(_Index(None), view))


def test_a_refusal_for_a_missing_role_points_at_roles_and_an_unknown_one_is_left_as_it_is() -> None:
    missing = refused(
        _Index(None), {"id": "1", "error": "the chain refuses it: MissingRole(account=0x1, role=4)"}
    )
    assert missing.revert == "MissingRole" and "`proml member list` shows" in str(missing)
    other = refused(_Index(None), {"id": "2", "error": "the batch reverted too often"})
    assert (
        other.revert is None
        and str(other) == "the chain refused outbox entry 2: the batch reverted too often"
    )
