"""Networks and the training runtime shared by pre-training, evaluation and embedding. Importing these
modules pulls in torch, so nothing on ``delbench --help`` or plugin discovery imports them."""
