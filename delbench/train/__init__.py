"""Training paths: pre-training, fine-tuning, evaluation and embedding. Importing these modules pulls
in torch, so nothing on ``delbench --help`` or plugin discovery imports them."""
