"""Never a download: the Hugging Face libraries are put in offline mode before any of them is imported.

huggingface_hub reads ``HF_HUB_OFFLINE`` once, into a module constant, when it is first imported;
timm and segmentation-models-pytorch import it. Setting the variable later (for example just before
``timm.create_model``) changes nothing, so ``delbench/__init__.py`` calls ``prefer_offline`` first
thing. A value the user set explicitly is kept; the timm embedder does not rely on this anyway, as it
hands timm a local file or gives up (``delbench.embed.stage``).
"""
from __future__ import annotations

import os

OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def prefer_offline() -> None:
    for var in OFFLINE_VARS:
        os.environ.setdefault(var, "1")
