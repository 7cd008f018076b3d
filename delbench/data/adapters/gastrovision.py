"""GastroVision: 8,000 GI endoscopy images in 27 class folders."""
from __future__ import annotations

from pathlib import Path

from delbench.data.adapters.base import ScanResult, locate_root, pool_items


class GastroVision:
    """GastroVision (Jha et al., ICML workshop 2023): 8,000 images, 27 classes -> pool.

    Layout (https://osf.io/84e7f/)::

        GastroVision/
          <class>/<uuid>.jpg    # e.g. "Colon polyps", "Normal mucosa and vascular pattern in the
                                # large bowel", "Accessory tools", ...

    Every image becomes a pool row, its class folder in ``label``. No task, no splits.
    Centre: ``gastrovision`` (Bærum Hospital and Karolinska University Hospital; the release does
    not say which image came from which).
    Citation: Jha D. et al., "GastroVision: A multi-class endoscopy image dataset for computer aided
    gastrointestinal disease detection", ICML Workshop on Machine Learning for Multimodal Healthcare
    Data (2023).
    """

    name = "gastrovision"

    def __init__(self, center: str = "gastrovision") -> None:
        self.center = center

    def scan(self, src: Path) -> ScanResult:
        src = Path(src)
        if not src.is_dir():
            locate_root(src, ["GastroVision"], fmt=self.name)  # raises the usual message
        root = src / "GastroVision" if (src / "GastroVision").is_dir() else src
        return ScanResult(root=root, items=list(pool_items(root, root, center=self.center, label_depth=0)))
