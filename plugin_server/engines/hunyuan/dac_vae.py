"""The DAC-VAE audio autoencoder of HunyuanVideo-Foley (`vae_128d_48k.pth`).

A continuous (VAE) variant of the Descript Audio Codec: the encoder turns 48 kHz mono audio into a
diagonal Gaussian over a 128-channel latent at 50 Hz (hop 960 = 2*3*4*5*8); the decoder turns
such a latent back into audio. HunyuanVideo-Foley only decodes, in float32, without autocast.

Module and parameter names follow the official checkpoint, so its state dict loads strictly with
no renaming: every conv except `quant_conv` / `post_quant_conv` carries the legacy weight-norm
pair `weight_g` / `weight_v` (effective weight g * v / ||v||, the norm over every axis but 0, no
epsilon). For a transposed conv, axis 0 of its [in, out, k] weight is the *input* channel, so g
is [in, 1, 1]. Every size is read from the checkpoint (`metadata["kwargs"]`, cross-checked with
the tensor shapes), nothing about the published model is hard-coded.

Long latents can be decoded in overlapping chunks (`DacVae.decode(z, chunk_frames=...)`): each
chunk carries at least the decoder's receptive field of context on both sides, so the kept
samples equal a full decode up to float rounding, while peak memory stays that of one chunk.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from plugin_server.engines.hunyuan.checkpoint import TensorInfo, WeightsError, load_vae_checkpoint
from plugin_server.engines.hunyuan.manifest import compare_state, module_manifest

log = logging.getLogger(__name__)

LOGVAR_RANGE = (-30.0, 20.0)
"""The posterior's log-variance is clamped to this range, as in the reference."""

DEFAULT_CHUNK_CONTEXT_MARGIN = 2
"""Latent frames of context added beyond the computed receptive field, as a safety margin."""


@dataclass(frozen=True)
class DacConfig:
    """The DAC constructor arguments that shape the network (the official `kwargs` names).

    `encoder_rates` are the encoder's strides, `decoder_rates` the decoder's; their products
    are the hop length (960 for the official 48 kHz model). The codebook arguments of the
    official class do nothing for the continuous model and are not kept.
    """

    encoder_dim: int = 64
    encoder_rates: tuple[int, ...] = (2, 4, 8, 8)
    latent_dim: int | None = None
    decoder_dim: int = 1536
    decoder_rates: tuple[int, ...] = (8, 8, 4, 2)
    sample_rate: int = 44100
    continuous: bool = True

    @property
    def hop_length(self) -> int:
        return math.prod(self.encoder_rates)

    @property
    def latent_channels(self) -> int:
        """The latent's channel count (`latent_dim`, or the DAC default from encoder_dim)."""
        if self.latent_dim is not None:
            return self.latent_dim
        return self.encoder_dim * 2 ** len(self.encoder_rates)

    @property
    def latent_rate_hz(self) -> float:
        return self.sample_rate / self.hop_length

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any], source: str = "DAC kwargs") -> DacConfig:
        """Build from the checkpoint's `metadata["kwargs"]`, dropping the keys the network
        ignores (n_codebooks, codebook_size, codebook_dim, quantizer_dropout) as the official
        loader does; missing keys take the official class's defaults."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in kwargs.items() if k in known}
        ignored = sorted(set(kwargs) - known)
        if ignored:
            log.debug("%s: ignoring kwargs with no effect on the network: %s", source, ignored)
        for name in ("encoder_rates", "decoder_rates"):
            if name in values:
                values[name] = tuple(int(rate) for rate in values[name])
        config = cls(**values)
        config.validate(source)
        return config

    @classmethod
    def from_state_dict(
        cls, shapes: Mapping[str, Sequence[int]], sample_rate: int, source: str = "DAC weights"
    ) -> DacConfig:
        """Read the network's sizes off checkpoint tensor shapes (for files without kwargs).

        Strides come from the strided convs' kernel sizes (kernel = 2 * stride); the sample rate
        cannot be seen in the weights and must be given.
        """
        try:
            encoder_dim = int(shapes["encoder.block.0.weight_v"][0])
            latent_dim = int(shapes["post_quant_conv.weight"][0])
            decoder_dim = int(shapes["decoder.model.0.weight_v"][0])
        except KeyError as error:
            raise WeightsError(
                f"{source}: tensor {error.args[0]!r} is missing; this is not a DAC-VAE state dict"
            ) from error
        encoder_rates = _strides(shapes, "encoder.block.{}.block.4.weight_v", source)
        decoder_rates = _strides(shapes, "decoder.model.{}.block.1.weight_v", source)
        config = cls(
            encoder_dim=encoder_dim,
            encoder_rates=encoder_rates,
            latent_dim=latent_dim,
            decoder_dim=decoder_dim,
            decoder_rates=decoder_rates,
            sample_rate=sample_rate,
            continuous=True,
        )
        config.validate(source)
        return config

    def validate(self, source: str = "DAC config") -> None:
        if not self.continuous:
            raise WeightsError(
                f"{source}: continuous=False (the quantised codec) is not supported; "
                "HunyuanVideo-Foley's vae_128d_48k.pth is continuous"
            )
        if min(self.encoder_rates, default=0) < 1 or min(self.decoder_rates, default=0) < 1:
            raise WeightsError(f"{source}: strides must be positive integers")
        if math.prod(self.decoder_rates) != self.hop_length:
            raise WeightsError(
                f"{source}: decoder strides {self.decoder_rates} do not undo encoder strides "
                f"{self.encoder_rates}"
            )
        if self.decoder_dim % 2 ** len(self.decoder_rates):
            raise WeightsError(
                f"{source}: decoder_dim {self.decoder_dim} cannot be halved "
                f"{len(self.decoder_rates)} times"
            )


def _strides(shapes: Mapping[str, Sequence[int]], pattern: str, source: str) -> tuple[int, ...]:
    rates: list[int] = []
    while (key := pattern.format(len(rates) + 1)) in shapes:
        kernel = int(shapes[key][-1])
        if kernel % 2:
            raise WeightsError(f"{source}: {key} has odd kernel {kernel}; expected 2*stride")
        rates.append(kernel // 2)
    if not rates:
        raise WeightsError(f"{source}: no strided conv found ({pattern.format(1)})")
    return tuple(rates)


class WNConv1d(nn.Module):
    """Conv1d with the legacy weight-norm parameters `weight_g` [out,1,1] and `weight_v`."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
    ) -> None:
        super().__init__()
        self.stride, self.padding, self.dilation = stride, padding, dilation
        # Registered in the official file's key order: bias, weight_g, weight_v.
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_g = nn.Parameter(torch.ones(out_channels, 1, 1))
        self.weight_v = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size))

    def weight(self) -> torch.Tensor:
        return _weight_norm(self.weight_g, self.weight_v)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(x, self.weight(), self.bias, self.stride, self.padding, self.dilation)


class WNConvTranspose1d(nn.Module):
    """ConvTranspose1d with legacy weight norm; g is per *input* channel: [in, 1, 1]."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        padding: int,
        output_padding: int,
    ) -> None:
        super().__init__()
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_g = nn.Parameter(torch.ones(in_channels, 1, 1))
        self.weight_v = nn.Parameter(torch.empty(in_channels, out_channels, kernel_size))

    def weight(self) -> torch.Tensor:
        return _weight_norm(self.weight_g, self.weight_v)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose1d(
            x, self.weight(), self.bias, self.stride, self.padding, self.output_padding
        )


def _weight_norm(g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    # vector_norm avoids a squared copy of v: the largest decoder weights are 134 MB in fp32.
    norm = torch.linalg.vector_norm(v, dim=tuple(range(1, v.ndim)), keepdim=True)
    return v * (g / norm)


class Snake1d(nn.Module):
    """y = x + sin(alpha * x)^2 / (alpha + 1e-9), alpha per channel [1, C, 1]."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + (self.alpha + 1e-9).reciprocal() * torch.sin(self.alpha * x).pow(2)


class ResidualUnit(nn.Module):
    """x + conv1(snake(conv7_dilated(snake(x)))), lengths preserved."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            Snake1d(channels),
            WNConv1d(channels, channels, 7, dilation=dilation, padding=3 * dilation),
            Snake1d(channels),
            WNConv1d(channels, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        crop = (x.shape[-1] - y.shape[-1]) // 2
        if crop > 0:
            x = x[..., crop:-crop]
        return x + y


class EncoderBlock(nn.Module):
    """Three residual units on dim/2 channels, then a strided conv dim/2 -> dim."""

    def __init__(self, dim: int, stride: int) -> None:
        super().__init__()
        half = dim // 2
        self.block = nn.Sequential(
            ResidualUnit(half, 1),
            ResidualUnit(half, 3),
            ResidualUnit(half, 9),
            Snake1d(half),
            WNConv1d(half, dim, 2 * stride, stride=stride, padding=math.ceil(stride / 2)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class DecoderBlock(nn.Module):
    """Snake, transposed conv in -> out upsampling by `stride`, three residual units."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            Snake1d(in_channels),
            WNConvTranspose1d(
                in_channels,
                out_channels,
                2 * stride,
                stride=stride,
                padding=math.ceil(stride / 2),
                output_padding=stride % 2,
            ),
            ResidualUnit(out_channels, 1),
            ResidualUnit(out_channels, 3),
            ResidualUnit(out_channels, 9),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Encoder(nn.Module):
    def __init__(self, dim: int, rates: Sequence[int], latent_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [WNConv1d(1, dim, 7, padding=3)]
        for stride in rates:
            dim *= 2
            layers.append(EncoderBlock(dim, stride))
        layers += [Snake1d(dim), WNConv1d(dim, latent_dim, 3, padding=1)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Decoder(nn.Module):
    def __init__(self, latent_dim: int, dim: int, rates: Sequence[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = [WNConv1d(latent_dim, dim, 7, padding=3)]
        for stride in rates:
            layers.append(DecoderBlock(dim, dim // 2, stride))
            dim //= 2
        layers += [Snake1d(dim), WNConv1d(dim, 1, 7, padding=3), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@dataclass(frozen=True)
class Posterior:
    """The encoder's diagonal Gaussian over the latent: `mean`, `logvar` [B, C, T] (clamped)."""

    mean: torch.Tensor
    logvar: torch.Tensor

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(
            self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype
        )
        return self.mean + self.std * noise


class DacVae(nn.Module):
    """DAC-VAE: `decode(z [B, C, T] at latent_rate_hz) -> [B, 1, hop * T]` audio in (-1, 1);
    `encode(x [B, 1, N]) -> Posterior` with N a multiple of the hop (see `pad_to_hop`)."""

    def __init__(self, config: DacConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        latent = config.latent_channels
        self.encoder = Encoder(config.encoder_dim, config.encoder_rates, latent)
        self.quant_conv = nn.Conv1d(latent, 2 * latent, 1)
        self.post_quant_conv = nn.Conv1d(latent, latent, 1)
        self.decoder = Decoder(latent, config.decoder_dim, config.decoder_rates)

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def pad_to_hop(self, audio: torch.Tensor) -> torch.Tensor:
        """Right-pad [B, 1, N] with zeros to a multiple of the hop, as the reference does."""
        padded = math.ceil(audio.shape[-1] / self.hop_length) * self.hop_length
        return F.pad(audio, (0, padded - audio.shape[-1]))

    def encode(self, audio: torch.Tensor) -> Posterior:
        """[B, 1, N] float audio (N a multiple of the hop) -> Posterior over [B, C, N / hop]."""
        if audio.ndim != 3 or audio.shape[1] != 1:
            raise ValueError(f"DAC encode expects audio [B, 1, N], got {list(audio.shape)}")
        if audio.shape[-1] % self.hop_length:
            raise ValueError(
                f"DAC encode needs a length that is a multiple of {self.hop_length}, got "
                f"{audio.shape[-1]}; pad it with pad_to_hop()"
            )
        moments = self.quant_conv(self.encoder(audio))
        mean, logvar = moments.chunk(2, dim=1)
        return Posterior(mean=mean, logvar=logvar.clamp(*LOGVAR_RANGE))

    def decode(
        self,
        latent: torch.Tensor,
        chunk_frames: int | None = None,
        context_frames: int | None = None,
    ) -> torch.Tensor:
        """[B, C, T] latent -> [B, 1, hop * T] audio, computed in the model's dtype.

        With `chunk_frames`, the latent is decoded `chunk_frames` at a time, each window widened
        by `context_frames` on both sides (default: the receptive field + a margin) and trimmed
        back, so the result equals a full decode within float rounding.
        """
        if latent.ndim != 3 or latent.shape[1] != self.config.latent_channels:
            raise ValueError(
                f"DAC decode expects a latent [B, {self.config.latent_channels}, T], "
                f"got {list(latent.shape)}"
            )
        latent = latent.to(self.post_quant_conv.weight.dtype)
        frames = latent.shape[-1]
        if chunk_frames is None or chunk_frames >= frames:
            return self.decoder(self.post_quant_conv(latent))
        if chunk_frames < 1:
            raise ValueError(f"chunk_frames must be at least 1, got {chunk_frames}")
        if context_frames is None:
            context_frames = self.decoder_receptive_frames() + DEFAULT_CHUNK_CONTEXT_MARGIN
        hop = self.hop_length
        pieces: list[torch.Tensor] = []
        for start in range(0, frames, chunk_frames):
            stop = min(start + chunk_frames, frames)
            window_start = max(0, start - context_frames)
            window_stop = min(frames, stop + context_frames)
            audio = self.decoder(self.post_quant_conv(latent[..., window_start:window_stop]))
            offset = (start - window_start) * hop
            pieces.append(audio[..., offset : offset + (stop - start) * hop])
        return torch.cat(pieces, dim=-1)

    def decoder_receptive_frames(self) -> int:
        """How many latent frames on each side can influence one output sample (rounded up).

        Summed over the decoder's layers, each converted to latent frames at its own rate: a
        k-tap conv with dilation d reaches d*(k-1)/2 samples, a transposed conv of stride s
        reaches ceil(2s/s) = 2 input samples.
        """
        reach = 0.0
        rate = 1  # samples per latent frame at the current layer
        reach += 3 / rate  # input conv, k7
        for stride in self.config.decoder_rates:
            reach += 2 / rate  # transposed conv, kernel 2*stride
            rate *= stride
            reach += sum(3 * dilation for dilation in (1, 3, 9)) / rate
        reach += 3 / rate  # output conv, k7
        return math.ceil(reach)


def build_dac(config: DacConfig, device: torch.device | str | None = None) -> DacVae:
    """Construct the network; `device="meta"` builds it without allocating weights."""
    with torch.device(device or "cpu"):
        return DacVae(config)


def load_dac(path: Path, device: torch.device | str = "cpu") -> DacVae:
    """Load a DAC-VAE checkpoint strictly, as float32, in eval mode with gradients off.

    Accepts the official `.pth` (`{"state_dict", "metadata": {"kwargs"}}`, read with
    `torch.load(weights_only=True)`) or a `.safetensors` copy (kwargs as JSON in its metadata).
    Raises WeightsError naming the file and every missing, unexpected or mis-shaped key.
    """
    state_dict, kwargs = load_vae_checkpoint(Path(path))
    return dac_from_state(state_dict, kwargs, source=str(path), device=device)


def dac_from_state(
    state_dict: Mapping[str, torch.Tensor],
    kwargs: Mapping[str, Any],
    *,
    source: str,
    device: torch.device | str = "cpu",
) -> DacVae:
    """Assign an official-layout state dict to a DAC built from `kwargs`; strict, float32.

    The network is built on the meta device and the tensors are assigned, so loading never
    holds two copies of the 1.5 GB of weights.
    """
    try:
        config = DacConfig.from_kwargs(kwargs, source=source)
    except (TypeError, ValueError) as error:
        raise WeightsError(f"{source}: metadata kwargs do not describe a DAC ({error})") from error
    model = build_dac(config, device="meta")
    found = {key: TensorInfo(tuple(value.shape), value.dtype) for key, value in state_dict.items()}
    problems = compare_state(module_manifest(model), found)
    if problems:
        hint = ""
        if any(".parametrizations.weight." in key for key in found):
            hint = (
                " (the file uses the parametrizations.weight.original0/1 layout; the official "
                "file uses weight_g/weight_v)"
            )
        raise WeightsError(
            f"{source} does not fit the DAC-VAE its kwargs describe: " + "; ".join(problems) + hint
        )
    model.load_state_dict(dict(state_dict), strict=True, assign=True)
    return model.to(device=device, dtype=torch.float32).requires_grad_(False).eval()
