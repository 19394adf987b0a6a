"""PyTorch: a per-epoch hook that puts each epoch's model state and metrics in a `ProvenanceTracker`.

    hook = EpochHook(tracker)
    for epoch in range(epochs):
        train_one_epoch(net)
        hook(epoch, net, {"loss": loss}, privacy_metrics={"epsilon": eps})

Needs PyTorch (`pip install 'proml-sdk[torch]'`); nothing else in ProML does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..tracker import ProvenanceTracker

try:
    import torch
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError("proml.sdk.integrations.torch needs PyTorch: pip install 'proml-sdk[torch]'") from exc


def state_bytes(module: torch.nn.Module) -> bytes:
    """The module's parameters and buffers, in name order, as bytes: the same state gives the same bytes."""
    parts = []
    for name, tensor in sorted(module.state_dict().items()):
        array = tensor.detach().cpu().contiguous().numpy()
        parts.append(f"{name}:{array.dtype}:{array.shape}".encode() + array.tobytes())
    return b"\0".join(parts)


class EpochHook:
    """Call once per epoch: tracks the model's state and the epoch's metrics; returns the new root."""

    def __init__(self, tracker: ProvenanceTracker) -> None:
        self.tracker = tracker

    def __call__(
        self,
        epoch: int,
        module: torch.nn.Module,
        metrics: Mapping[str, Any],
        *,
        privacy_metrics: Mapping[str, Any] | None = None,
    ) -> str:
        return self.tracker.track_epoch(
            epoch, model_state=state_bytes(module), metrics=metrics, privacy_metrics=privacy_metrics
        )
