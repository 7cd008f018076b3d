"""Stage pretrain: self-supervised pre-training on a kept subset under equal compute (objectives ``mae``,
``inpaint``, ``contrastive``), with checkpoints to resume from."""
