"""The PyTorch epoch hook (runs when PyTorch is installed; it is an optional integration)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is an optional integration and is not installed")

from proml.sdk.integrations.torch import EpochHook, state_bytes  # noqa: E402
from proml.sdk.tracker import ProvenanceTracker  # noqa: E402


def test_the_same_state_gives_the_same_bytes_and_a_change_does_not() -> None:
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 2)
    before = state_bytes(net)
    assert state_bytes(net) == before
    with torch.no_grad():
        net.weight[0, 0] += 1.0
    assert state_bytes(net) != before


def test_each_epoch_changes_the_root() -> None:
    tracker = ProvenanceTracker(None, None)  # type: ignore[arg-type]  # the tree needs no node
    hook = EpochHook(tracker)
    net = torch.nn.Linear(4, 2)
    first = hook(1, net, {"loss": 0.5})
    second = hook(2, net, {"loss": 0.4})
    assert first != second
