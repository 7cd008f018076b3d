"""The polyp test-set bundle shared with PraNet: five test sets in one ``TestDataset`` folder."""
from __future__ import annotations

from pathlib import Path

from delbench.data.adapters.base import ScanResult, find_dir, locate_root, paired_items
from delbench.data.adapters.cvc_clinicdb import with_sequences

# Sub-dataset folder -> (task, centre); the centres match the single-dataset adapters.
KNOWN: dict[str, tuple[str, str]] = {
    "kvasir": ("kvasir-seg", "vestre-viken"),
    "cvc-clinicdb": ("cvc-clinicdb", "hospital-clinic-barcelona"),
    "cvc-colondb": ("cvc-colondb", "cvc-colondb"),
    "cvc-300": ("cvc-300", "cvc-colondb"),
    "etis-laribpolypdb": ("etis", "etis-larib"),
}


class PolypTestSets:
    """Polyp test-set bundle (Fan et al., PraNet, MICCAI 2020): one task per sub-dataset.

    Layout (``TestDataset`` as distributed with PraNet and the methods that follow it)::

        TestDataset/
          CVC-300/{images,masks}/<n>.png            -> task cvc-300
          CVC-ClinicDB/{images,masks}/<n>.png       -> task cvc-clinicdb
          CVC-ColonDB/{images,masks}/<n>.png        -> task cvc-colondb
          ETIS-LaribPolypDB/{images,masks}/<n>.png  -> task etis
          Kvasir/{images,masks}/<name>.png          -> task kvasir-seg
        TrainDataset/{images,masks}/                 # ignored (mixes Kvasir and ClinicDB)

    Any other ``<name>/{images,masks}`` folder becomes task ``<name>`` (lower-case) with centre
    ``<name>``. In the bundle these are test-only subsets; here each becomes a task with hashed
    train/val/test splits; CVC-ClinicDB frames keep their release numbers, so they are grouped by
    sequence as in the ``cvc-clinicdb`` format. Citation: Fan D.-P. et al., "PraNet: Parallel reverse attention network
    for polyp segmentation", MICCAI 2020, plus each sub-dataset's own paper.
    """

    name = "polyp-testsets"

    def scan(self, src: Path) -> ScanResult:
        src = Path(src)
        root = src / "TestDataset" if (src / "TestDataset").is_dir() else src
        root = locate_root(root, ["Kvasir", "CVC-300", "CVC-ClinicDB", "CVC-ColonDB", "ETIS-LaribPolypDB"], fmt=self.name)
        result = ScanResult(root=root)
        for d in sorted(p for p in root.iterdir() if p.is_dir() and (p / "images").is_dir()):
            task, centre = KNOWN.get(d.name.lower(), (d.name.lower(), d.name.lower()))
            masks = find_dir(d, ["masks", "masks_png", "gt"], what="mask", fmt=self.name)
            items, notes = paired_items(root, d / "images", masks, task=task, center=centre)
            if task == "cvc-clinicdb":
                items, more = with_sequences(items, f"{self.name} {d.name}")
                notes += more
            result.items += items
            result.notes += notes
        return result
