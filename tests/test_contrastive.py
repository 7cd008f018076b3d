"""The contrastive objective and the encoder-pyramid probe."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from delbench.errors import DelbenchError
from delbench.protocol import load_protocol
from delbench.pretrain.contrastive import augment, nt_xent
from delbench.nets.models import build_seg_net, load_matching, transferable
from delbench.pretrain.objectives import build_pretrainer
from delbench.nets.runtime import step_generator


def _pt():
    return replace(load_protocol("smoke").pretrain, objective="contrastive")


def test_augment_is_a_function_of_the_generator():
    x = torch.randn(4, 3, 32, 32)
    a, b = augment(x, step_generator(0, 1)), augment(x, step_generator(0, 1))
    c = augment(x, step_generator(0, 2))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert a.shape == x.shape and not torch.allclose(a, x)


def test_nt_xent_rewards_matching_views():
    z = torch.randn(8, 16)
    matched = nt_xent(torch.cat([z, z + 0.01 * torch.randn_like(z)]))
    unmatched = nt_xent(torch.cat([z, torch.randn_like(z)]))
    assert matched < unmatched


def test_training_lowers_the_loss_and_transfers_the_encoder():
    torch.manual_seed(0)
    model = build_pretrainer(_pt())
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    x = torch.randn(16, 3, 32, 32)
    losses = []
    for step in range(30):
        loss = model(x, step_generator(0, step))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5
    state = transferable(model.state_dict())
    assert not any(k.startswith("proj.") for k in state)
    net = build_seg_net(_pt().network(), out_channels=1, head="pyramid")
    loaded = load_matching(net, state)
    assert any(k.startswith("encoder.") for k in loaded)
    assert torch.equal(net.state_dict()["encoder.stages.0.0.weight"], model.state_dict()["net.encoder.stages.0.0.weight"])


def test_pyramid_head_reads_every_encoder_level():
    net = build_seg_net(_pt().network(), out_channels=1, head="pyramid").eval()
    x = torch.randn(2, 3, 32, 32)
    feats = net.features(x)
    assert feats.shape == (2, sum(net.encoder.widths), 32, 32)
    with torch.no_grad():
        net.encoder.stages[-1][0].weight.mul_(2.0)  # the coarsest level must reach the features
    assert not torch.allclose(net.features(x), feats)


def test_contrastive_needs_the_conv_unet():
    from delbench.protocol import from_dict

    raw = load_protocol("smoke").to_dict()
    raw["pretrain"].update(objective="contrastive", arch="vit", encoder="vit_tiny_patch16_224")
    raw["finetune"]["head"] = "mlp"
    with pytest.raises(DelbenchError, match="'contrastive' needs arch = 'unet'"):
        from_dict(raw)
