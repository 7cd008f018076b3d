"""The pre-training objectives as networks: each wraps the network a protocol describes and returns its
loss from a batch (``mae`` on a ViT, ``inpaint`` and ``contrastive`` on the conv UNet)."""
from __future__ import annotations

from torch import nn

from delbench.nets.models import build_seg_net, make_vit
from delbench.protocol import PretrainConfig


def build_pretrainer(pt: PretrainConfig) -> nn.Module:
    """The network ``pt.objective`` trains, wrapped around the network ``pt`` describes."""
    from delbench.pretrain.mae import MAE, Inpaint

    net = pt.network()
    if pt.objective == "contrastive":
        from delbench.pretrain.contrastive import Contrastive

        return Contrastive(build_seg_net(net, out_channels=1))
    if pt.objective == "mae":
        vit = make_vit(net.encoder, net.image_size, net.patch or None)
        return MAE(vit, pt.decoder_dim, pt.decoder_depth, pt.mask_ratio)
    return Inpaint(build_seg_net(net, out_channels=3), pt.mask_ratio, pt.mask_patch)
