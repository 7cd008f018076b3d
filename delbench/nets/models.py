"""Networks: a small conv UNet (CPU protocols), smp UNet/FPN with a light encoder, and a timm ViT with
per-patch MLP or multi-level FPN heads (the paper's setting).

A pre-trainable network exposes ``encoder_state()`` semantics through parameter-name prefixes:
everything under ``encoder.`` is the encoder; pre-training objectives that train the whole
segmentation network (dense inpainting) also carry ``decoder.`` weights into fine-tuning.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from delbench.protocol import Network


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ConvEncoder(nn.Module):
    """Four-level conv encoder; ``forward`` returns the feature pyramid (finest first)."""

    def __init__(self, width: int = 16, depth: int = 4) -> None:
        super().__init__()
        widths = [width * 2**i for i in range(depth)]
        self.widths = widths
        self.stages = nn.ModuleList()
        cin = 3
        for w in widths:
            self.stages.append(_block(cin, w))
            cin = w

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i, stage in enumerate(self.stages):
            if i:
                x = F.max_pool2d(x, 2)
            x = stage(x)
            feats.append(x)
        return feats

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)[-1].mean(dim=(2, 3))


class ConvDecoder(nn.Module):
    def __init__(self, widths: list[int]) -> None:
        super().__init__()
        self.ups = nn.ModuleList()
        self.blocks = nn.ModuleList()
        for i in range(len(widths) - 1, 0, -1):
            self.ups.append(nn.Conv2d(widths[i], widths[i - 1], 1))
            self.blocks.append(_block(2 * widths[i - 1], widths[i - 1]))

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        return self.levels(feats)[-1]

    def levels(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        """The bottleneck and every decoder level's output, coarsest first."""
        x = feats[-1]
        outs = [x]
        for j, (up, block) in enumerate(zip(self.ups, self.blocks)):
            skip = feats[-2 - j]
            x = up(F.interpolate(x, size=skip.shape[-2:], mode="nearest"))
            x = block(torch.cat([x, skip], dim=1))
            outs.append(x)
        return outs


class Standardize(nn.Module):
    """Centre and scale each channel by fixed statistics (``fit``), as a linear probe's input layer.

    Frozen features have one mean and spread, so they are measured once on the labelled training
    features rather than per batch (a BatchNorm would add batch noise and cost more than the probe)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    def fit(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(std.clamp_min(1e-6))  # a dead channel stays 0 instead of dividing by 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean[:, None, None]) / self.std[:, None, None]


class ConvUNet(nn.Module):
    """Small UNet: fast enough on two CPU cores to pre-train and fine-tune within minutes.

    ``hypercolumn=True`` replaces the output head by a linear 1x1 conv over every decoder level
    (upsampled and concatenated): the probe of the CPU protocols, which reads what all levels of a
    frozen network encode rather than only its last 8-24 channels."""

    def __init__(self, out_channels: int = 1, width: int = 16, depth: int = 4, hypercolumn: bool = False,
                 pyramid: bool = False, standardize: bool = False, levels: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.encoder = ConvEncoder(width, depth)
        self.decoder = ConvDecoder(self.encoder.widths)
        self.hypercolumn = hypercolumn
        self.pyramid = pyramid
        self.levels = tuple(levels) or tuple(range(depth))
        if pyramid:
            cin = sum(self.encoder.widths[i] for i in self.levels)
        else:
            cin = sum(self.encoder.widths) if hypercolumn else self.encoder.widths[0]
        self.head = nn.Conv2d(cin, out_channels, 1)
        if standardize:
            self.head = nn.Sequential(Standardize(cin), self.head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """What the output head reads: the last decoder map, the hypercolumn of every decoder level,
        or (``pyramid``) of every encoder level, for objectives that train the encoder alone."""
        feats = self.encoder(x)
        if self.pyramid:
            size = feats[0].shape[-2:]
            return torch.cat([feats[i] if i == 0 else F.interpolate(feats[i], size=size, mode="bilinear", align_corners=False)
                              for i in self.levels], dim=1)
        if not self.hypercolumn:
            return self.decoder(feats)
        levels = self.decoder.levels(feats)
        size = levels[-1].shape[-2:]
        cols = [F.interpolate(f, size=size, mode="bilinear", align_corners=False) for f in levels[:-1]] + levels[-1:]
        return torch.cat(cols, dim=1)


class SmpNet(nn.Module):
    """An smp decoder (Unet/FPN) over a light smp encoder, re-exposed as encoder/decoder/head."""

    def __init__(self, arch: str, encoder: str, out_channels: int = 1) -> None:
        super().__init__()
        import segmentation_models_pytorch as smp

        cls = {"smp_unet": smp.Unet, "smp_fpn": smp.FPN}[arch]
        net = cls(encoder_name=encoder, encoder_weights=None, classes=out_channels)
        self.encoder = net.encoder
        self.decoder = net.decoder
        self.head = net.segmentation_head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encoder(x)
        dec = self.decoder(feats) if _decoder_takes_list(self.decoder) else self.decoder(*feats)
        out = self.head(dec)
        if out.shape[-2:] != x.shape[-2:]:
            out = F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return out


def _decoder_takes_list(decoder: nn.Module) -> bool:
    import inspect

    params = list(inspect.signature(decoder.forward).parameters.values())
    return not any(p.kind == p.VAR_POSITIONAL for p in params)


def make_vit(name: str, image_size: int, patch: int | None = None, **kw: Any) -> nn.Module:
    import timm

    args: dict[str, Any] = {"pretrained": False, "num_classes": 0, "img_size": image_size, **kw}
    if patch is not None:
        args["patch_size"] = patch
    return timm.create_model(name, **args)


class ViTSeg(nn.Module):
    """ViT encoder + ``mlp`` head (per-patch MLP on the last tokens, upsampled; the paper's head) or
    ``fpn`` head (features of four evenly spaced blocks, reshaped to maps, fused at 1/4 scale)."""

    def __init__(self, vit: nn.Module, head: str = "mlp", hidden: int = 256) -> None:
        super().__init__()
        self.encoder = vit
        dim = vit.embed_dim
        self.head_kind = head
        depth = len(vit.blocks)
        self.taps = sorted({max(0, depth * k // 4 - 1) for k in (1, 2, 3, 4)})
        if head == "mlp":
            self.decoder = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, 1))
        elif head == "fpn":
            self.decoder = nn.ModuleList([nn.Conv2d(dim, hidden // 2, 1) for _ in self.taps])
            self.fuse = nn.Sequential(
                nn.Conv2d(hidden // 2, hidden // 2, 3, padding=1), nn.BatchNorm2d(hidden // 2), nn.ReLU(True)
            )
            self.out = nn.Conv2d(hidden // 2, 1, 1)
        else:
            raise ValueError(head)

    def _tokens(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Patch tokens [B, L, D] after each tapped block. The last tap is the encoder's output, so it
        gets the final norm as ``forward_features`` would; earlier taps stay raw."""
        outs = self.encoder.forward_intermediates(x, indices=self.taps, output_fmt="NLC", intermediates_only=True)
        outs[-1] = self.encoder.norm(outs[-1])
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gh = x.shape[-2] // self.encoder.patch_embed.patch_size[0]
        gw = x.shape[-1] // self.encoder.patch_embed.patch_size[1]
        toks = self._tokens(x)
        if self.head_kind == "mlp":
            logits = self.decoder(toks[-1]).transpose(1, 2).reshape(x.shape[0], 1, gh, gw)
        else:
            size = (gh * 4, gw * 4)
            fused = 0
            for proj, t in zip(self.decoder, toks):
                m = t.transpose(1, 2).reshape(x.shape[0], -1, gh, gw)
                fused = fused + F.interpolate(proj(m), size=size, mode="bilinear", align_corners=False)
            logits = self.out(self.fuse(fused))
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)


IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def build_seg_net(net: Network, out_channels: int = 1, head: str = "unet", standardize: bool = False,
                  levels: tuple[int, ...] = ()) -> nn.Module:
    """The segmentation network a protocol fine-tunes (and, for dense objectives, pre-trains).
    For a conv UNet, ``standardize`` puts a ``Standardize`` layer before the output head, and
    ``levels`` names the encoder levels (0 = finest) a ``pyramid`` head reads (all when empty)."""
    if net.arch == "unet":
        return ConvUNet(out_channels, net.width, hypercolumn=head == "hypercolumn", pyramid=head == "pyramid",
                        standardize=standardize, levels=levels)
    if net.arch in ("smp_unet", "smp_fpn"):
        return SmpNet(net.arch, net.encoder, out_channels)
    return ViTSeg(make_vit(net.encoder, net.image_size, net.patch or None), head=head)


def transferable(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a pre-trainer's weights onto segmentation-network names (``net.`` stripped for inpainting;
    MAE's decoder dropped, since only its encoder transfers)."""
    out = {}
    for k, v in state.items():
        if k.startswith("net."):
            out[k[4:]] = v
        elif k.startswith("encoder."):
            out[k] = v
    return out


def load_matching(net: nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Load the weights whose name and shape match (the output head differs: 3 vs 1 channels);
    return the names loaded."""
    own = net.state_dict()
    keep = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    net.load_state_dict(keep, strict=False)
    return sorted(keep)
