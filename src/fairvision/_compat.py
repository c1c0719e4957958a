"""Compatibility shim for a CUDA torchvision wheel on a CPU-only torch.

PyPI's torchvision wheel is built against CUDA torch.  Installed beside the CPU
build of torch, ``import torchvision`` (and so ``import timm``) fails with
``RuntimeError: operator torchvision::nms does not exist``: the wheel's
compiled operators do not load, and its Python side then registers fake
(meta) kernels for ``torchvision::nms`` / ``torchvision::qnms``, which must
exist first.

:func:`import_torchvision` imports torchvision normally.  Only when exactly
that failure happens does it define the two operator *schemas* with
``torch.library`` (no kernels: calling NMS then raises a clear "no kernel"
error, nothing silently wrong) and import again.  fairvision uses neither op,
and decodes images with PIL, never with ``torchvision.io``.  On a machine
whose torch and torchvision match, the first import succeeds and nothing is
patched.
"""

from __future__ import annotations

import sys
import types

__all__ = ["import_torchvision", "import_timm", "patched"]

_MISSING_OP = "torchvision::nms does not exist"
_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library = None  # keeps the torch.library.Library alive for the process
patched = False  #: True once the schemas had to be defined in this process


def _define_schemas() -> None:
    global _library, patched
    import torch

    if _library is None:
        _library = torch.library.Library("torchvision", "FRAGMENT")
        for schema in _SCHEMAS:
            _library.define(schema)
    patched = True


def import_torchvision() -> types.ModuleType:
    """Import torchvision, defining missing operator schemas only if the import needs them."""
    try:
        import torchvision
    except RuntimeError as exc:
        if _MISSING_OP not in str(exc):
            raise
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        _define_schemas()
        import torchvision
    return torchvision


def import_timm() -> types.ModuleType:
    """Import timm (which imports torchvision) through :func:`import_torchvision`."""
    import_torchvision()
    import timm

    return timm
