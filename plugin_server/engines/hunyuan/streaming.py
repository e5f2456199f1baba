"""Weights kept in host memory and brought to the device only while they are used.

Two users:

- `HostWeights`: one network's tensors kept in host memory (pinned on CUDA, so copies are
  asynchronous DMA) and swapped onto the device for a stage, then dropped again. Nothing is
  copied back (inference never changes a weight) and nothing is read from disk again: the host
  copy is made once, at load.
- `BlockStreamer`: the transformer's blocks, in the order a forward pass runs them, streamed
  through the device with `resident` blocks there at once: while block i computes, blocks
  i+1 .. i+resident-1 are already being copied on a side CUDA stream. An event per block orders
  compute after its copy; the copy's memory is marked as used by the compute stream
  (`record_stream`), so the allocator reuses it only after that compute has finished. There is
  no host synchronisation per block.

On the CPU the same code runs with `NullStreams` (copies are the host tensors themselves,
events and stream switches do nothing), so the streamed transformer computes with exactly the
tensors and operations of the resident one: bit-identical output, which the tests check.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn
from torch.func import functional_call

log = logging.getLogger(__name__)

BLOCK_GROUPS = ("triple_blocks", "single_blocks")


class ReadyEvent(Protocol):
    def record(self, stream: Any = None) -> None: ...


class Streams(Protocol):
    """The stream operations the streamer needs; CUDA streams or the CPU's no-ops."""

    def copy_context(self) -> contextlib.AbstractContextManager[Any]: ...

    def new_event(self) -> ReadyEvent: ...

    def wait(self, event: ReadyEvent) -> None: ...

    def mark_used_by_compute(self, tensor: torch.Tensor) -> None: ...


class NullStreams:
    """The CPU's streams: one in-order stream, so every ordering operation is a no-op."""

    class _Event:
        def record(self, stream: Any = None) -> None:
            return None

    def copy_context(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def new_event(self) -> ReadyEvent:
        return NullStreams._Event()

    def wait(self, event: ReadyEvent) -> None:
        return None

    def mark_used_by_compute(self, tensor: torch.Tensor) -> None:
        return None


class CudaStreams:
    """A side stream for host-to-device copies, ordered against the compute stream by events."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.side = torch.cuda.Stream(device)

    def copy_context(self) -> contextlib.AbstractContextManager[Any]:
        return torch.cuda.stream(self.side)

    def new_event(self) -> ReadyEvent:
        event = torch.cuda.Event()
        event.record(self.side)
        return event

    def wait(self, event: ReadyEvent) -> None:
        torch.cuda.current_stream(self.device).wait_event(event)  # type: ignore[arg-type]

    def mark_used_by_compute(self, tensor: torch.Tensor) -> None:
        tensor.record_stream(torch.cuda.current_stream(self.device))


def streams_for(device: torch.device) -> Streams:
    return CudaStreams(device) if device.type == "cuda" else NullStreams()


def _module_tensors(module: nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    yield from module.named_parameters()
    yield from module.named_buffers()


def host_copy(module: nn.Module, pin: bool) -> dict[str, torch.Tensor]:
    """`module`'s parameters and buffers as host tensors, pinned when `pin` (CUDA only)."""
    copies: dict[str, torch.Tensor] = {}
    for name, tensor in _module_tensors(module):
        host = tensor.detach().to("cpu")
        copies[name] = host.pin_memory() if pin else host
    return copies


class HostWeights:
    """One network's weights in host memory, swapped onto the device per stage.

    `to_device` points every parameter and buffer at a device copy of its host tensor
    (asynchronous from pinned memory); `to_host` points them back at the host tensors, letting
    the device copies go. The host tensors are made once, here, never re-read from disk.
    """

    def __init__(self, module: nn.Module, device: torch.device) -> None:
        self.module = module
        self.device = device
        self.host = host_copy(module, pin=device.type == "cuda")
        self._point(self.host)
        self.transfers = 0  # how many times the weights went to the device (tests, reports)

    def _point(self, tensors: dict[str, torch.Tensor]) -> None:
        for name, tensor in _module_tensors(self.module):
            tensor.data = tensors[name]

    def to_device(self) -> None:
        self.transfers += 1
        self._point({n: t.to(self.device, non_blocking=True) for n, t in self.host.items()})

    def to_host(self) -> None:
        self._point(self.host)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.host.values())


@dataclass
class _Slot:
    weights: dict[str, torch.Tensor]
    ready: ReadyEvent


@dataclass
class StreamStats:
    """What one streamer did: copies issued, the most blocks resident at once, bytes moved."""

    fetches: int = 0
    max_resident: int = 0
    bytes_copied: int = 0
    order: list[int] = field(default_factory=list)


class BlockStreamer:
    """Runs the transformer's blocks with their weights streamed from host memory.

    `blocks` are in execution order (the triple blocks, then the single ones); the model calls
    `run(position, block, *inputs)` for each. At most `resident` blocks' weights are on the
    device at once: the computing block and the next resident-1 being prefetched (wrapping
    around to the first blocks, which the next sampler step needs).
    """

    def __init__(
        self,
        blocks: Sequence[nn.Module],
        device: torch.device,
        resident: int,
        streams: Streams | None = None,
    ) -> None:
        if resident < 1:
            raise ValueError(f"stream_blocks must be at least 1, got {resident}")
        self.blocks = list(blocks)
        self.device = device
        self.resident = min(resident, len(self.blocks))
        self.streams = streams or streams_for(device)
        pin = device.type == "cuda"
        self.host = [host_copy(block, pin=pin) for block in self.blocks]
        for block, copies in zip(self.blocks, self.host, strict=True):
            # The module keeps pointing at the host copies: nothing else holds block weights.
            for name, tensor in _module_tensors(block):
                tensor.data = copies[name]
        self._slots: dict[int, _Slot] = {}
        self.stats = StreamStats()

    def _fetch(self, position: int) -> None:
        if position in self._slots:
            return
        with self.streams.copy_context():
            weights = {
                name: tensor.to(self.device, non_blocking=True)
                for name, tensor in self.host[position].items()
            }
            ready = self.streams.new_event()
        self._slots[position] = _Slot(weights, ready)
        self.stats.fetches += 1
        self.stats.bytes_copied += self.block_bytes_at(position)
        self.stats.max_resident = max(self.stats.max_resident, len(self._slots))

    def block_bytes_at(self, position: int) -> int:
        return sum(t.numel() * t.element_size() for t in self.host[position].values())

    def run(self, position: int, block: nn.Module, *inputs: object) -> Any:
        """Block `position`'s forward on `inputs`, with its weights streamed in."""
        if block is not self.blocks[position]:
            raise ValueError(f"block {position} is not the streamer's block at that position")
        self._fetch(position)
        count = len(self.blocks)
        for ahead in range(1, self.resident):
            self._fetch((position + ahead) % count)
        slot = self._slots.pop(position)
        self.streams.wait(slot.ready)
        for tensor in slot.weights.values():
            self.streams.mark_used_by_compute(tensor)
        self.stats.order.append(position)
        return functional_call(block, slot.weights, inputs)

    def release(self) -> None:
        """Drop every prefetched block (end of sampling): the device keeps none of them."""
        self._slots.clear()


def stream_groups(model: nn.Module) -> list[nn.Module]:
    """The model's blocks in execution order (triple, then single)."""
    blocks: list[nn.Module] = []
    for group in BLOCK_GROUPS:
        blocks.extend(getattr(model, group))
    return blocks


def place_outside_blocks(model: nn.Module, device: torch.device) -> None:
    """Move every tensor of `model` except its blocks' to `device` (the embedders, the final
    layer, the learned empty features): these stay resident while the blocks stream."""
    for name, child in model.named_children():
        if name not in BLOCK_GROUPS:
            child.to(device)
    for parameter in model.parameters(recurse=False):
        parameter.data = parameter.data.to(device)
    for buffer in model.buffers(recurse=False):
        buffer.data = buffer.data.to(device)
