"""Self-supervised objectives.

``mae``: masked autoencoder (He et al. 2022) on a timm ViT with a light transformer decoder, the
paper's pre-training. ``inpaint``: the whole segmentation network (encoder + decoder) reconstructs
masked square patches of the image; a dense objective that trains the very weights fine-tuning will
use, which is what makes pre-training pay off at CPU budgets (see docs/protocols.md).

Both take a per-step ``torch.Generator`` for the mask, so a step's randomness depends only on
(seed, step, rank) and a resumed run draws exactly what an uninterrupted one would.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _sincos_2d(dim: int, gh: int, gw: int) -> torch.Tensor:
    """Fixed 2-D sin-cos position embedding, as in MAE's decoder."""
    def one(d: int, pos: torch.Tensor) -> torch.Tensor:
        omega = 1.0 / 10000 ** (torch.arange(d // 2, dtype=torch.float64) / (d / 2))
        out = pos.reshape(-1).double()[:, None] * omega[None]
        return torch.cat([out.sin(), out.cos()], dim=1)

    ys, xs = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    emb = torch.cat([one(dim // 2, ys), one(dim // 2, xs)], dim=1)
    return emb.float()[None]


class MAE(nn.Module):
    """MAE on a timm ViT (``encoder``); only ``encoder.*`` weights carry over to fine-tuning."""

    def __init__(self, vit: nn.Module, decoder_dim: int = 128, decoder_depth: int = 2,
                 mask_ratio: float = 0.75, norm_pix: bool = True) -> None:
        super().__init__()
        from timm.models.vision_transformer import Block

        self.encoder = vit
        self.mask_ratio = mask_ratio
        self.norm_pix = norm_pix
        self.patch = vit.patch_embed.patch_size[0]
        gh, gw = vit.patch_embed.grid_size
        self.grid = (gh, gw)
        self.dec_embed = nn.Linear(vit.embed_dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.register_buffer("dec_pos", _sincos_2d(decoder_dim, gh, gw), persistent=False)
        heads = max(1, decoder_dim // 32)
        self.dec_blocks = nn.ModuleList([Block(decoder_dim, heads, 4.0, qkv_bias=True) for _ in range(decoder_depth)])
        self.dec_norm = nn.LayerNorm(decoder_dim)
        self.dec_pred = nn.Linear(decoder_dim, self.patch * self.patch * 3)
        nn.init.normal_(self.mask_token, std=0.02)

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        p = self.patch
        x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, (h // p) * (w // p), p * p * c)

    def forward(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        vit = self.encoder
        b = x.shape[0]
        tokens = vit.patch_embed(x)
        n = tokens.shape[1]
        keep = max(1, int(round(n * (1 - self.mask_ratio))))
        noise = torch.rand(b, n, generator=gen).to(x.device)
        order = noise.argsort(dim=1)
        restore = order.argsort(dim=1)
        kept = order[:, :keep]
        # Position embeddings are added before masking so kept tokens know where they are.
        pos = vit.pos_embed
        prefix = getattr(vit, "num_prefix_tokens", 1)
        tokens = tokens + pos[:, prefix:]
        tokens = torch.gather(tokens, 1, kept[..., None].expand(-1, -1, tokens.shape[-1]))
        if prefix:
            cls = vit.cls_token + pos[:, :1] if vit.cls_token is not None else pos[:, :1]
            tokens = torch.cat([cls.expand(b, -1, -1), tokens], dim=1)
        for blk in vit.blocks:
            tokens = blk(tokens)
        tokens = vit.norm(tokens)
        dec = self.dec_embed(tokens)
        body = dec[:, prefix:]
        masks = self.mask_token.expand(b, n - keep, -1)
        full = torch.cat([body, masks], dim=1)
        full = torch.gather(full, 1, restore[..., None].expand(-1, -1, full.shape[-1]))
        full = full + self.dec_pos.to(full.dtype)
        for blk in self.dec_blocks:
            full = blk(full)
        pred = self.dec_pred(self.dec_norm(full))
        target = self.patchify(x)
        if self.norm_pix:
            mu, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
            target = (target - mu) / (var + 1e-6).sqrt()
        mask = torch.ones(b, n, device=x.device)
        mask[:, :keep] = 0
        mask = torch.gather(mask, 1, restore)
        loss = ((pred.float() - target.float()) ** 2).mean(-1)
        return (loss * mask).sum() / mask.sum()


class Inpaint(nn.Module):
    """Masked-patch inpainting for a whole segmentation network with a 3-channel output head."""

    def __init__(self, net: nn.Module, mask_ratio: float = 0.6, mask_patch: int = 8) -> None:
        super().__init__()
        self.net = net
        self.mask_ratio = mask_ratio
        self.mask_patch = mask_patch

    def forward(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        b, _, h, w = x.shape
        p = self.mask_patch
        m = (torch.rand(b, 1, h // p, w // p, generator=gen) < self.mask_ratio).float().to(x.device)
        m = F.interpolate(m, scale_factor=p, mode="nearest")
        out = self.net(x * (1 - m))
        err = ((out.float() - x.float()) ** 2).mean(1, keepdim=True)
        masked = (err * m).sum() / m.sum().clamp(min=1)
        # A small weight on visible pixels keeps the skip paths from learning to ignore their input.
        visible = (err * (1 - m)).sum() / (1 - m).sum().clamp(min=1)
        return masked + 0.1 * visible
