"""The synthetic DataDEL: a procedurally generated endoscopy pool and polyp-segmentation tasks with
ground truth (frame quality, near-duplicate groups, polyp presence), reproducible from a seed.

``generate(out, scale="smoke", seed=0)`` writes a dataset root; ``SCALES`` lists the sizes.
Modules: ``mucosa`` (tube wall and rendering), ``polyps``, ``camera`` (videos, duplicates, disruption
schedule), ``disrupt`` (disruptive-frame effects), ``centers`` (per-centre looks), ``tasks``,
``generate`` (the driver).
"""
from __future__ import annotations

from delbench.data.synth.generate import INFO_NAME, SCALES, SYNTH_VERSION, Scale, generate, get_scale

__all__ = ["INFO_NAME", "SCALES", "SYNTH_VERSION", "Scale", "generate", "get_scale"]
