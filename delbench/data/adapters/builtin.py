"""The built-in dataset formats, registered through the same hook a plugin uses.

Registration only imports the adapter classes (plain Python, no Pillow or torch) and does no I/O.
"""
from __future__ import annotations

from typing import Callable

from delbench import hookimpl
from delbench.data.adapters.cvc_300 import CVC300
from delbench.data.adapters.cvc_clinicdb import CVCClinicDB
from delbench.data.adapters.cvc_colondb import CVCColonDB
from delbench.data.adapters.etis import ETISLarib
from delbench.data.adapters.folder import ImageFolder
from delbench.data.adapters.gastrovision import GastroVision
from delbench.data.adapters.hyper_kvasir import HyperKvasir
from delbench.data.adapters.kvasir_capsule import KvasirCapsule
from delbench.data.adapters.kvasir_instrument import KvasirInstrument
from delbench.data.adapters.kvasir_seg import KvasirSEG
from delbench.data.adapters.kvasir_sessile import KvasirSessile
from delbench.data.adapters.polyp_testsets import PolypTestSets
from delbench.data.adapters.polypgen import PolypGen2021

ADAPTERS = (
    KvasirSEG,
    KvasirSessile,
    KvasirInstrument,
    CVCClinicDB,
    CVCColonDB,
    CVC300,
    ETISLarib,
    PolypGen2021,
    PolypTestSets,
    HyperKvasir,
    KvasirCapsule,
    GastroVision,
    ImageFolder,
)


@hookimpl
def delbench_register_datasets(register: Callable[..., None]) -> None:
    for adapter in ADAPTERS:
        register(adapter)
