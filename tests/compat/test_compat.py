"""The torchvision compat shim: patches only when the known failure happens."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import fairvision._compat as compat
timm = compat.import_timm()
import torch
model = timm.create_model("resnet18", pretrained=False, num_classes=0).eval()
print(compat.patched, model(torch.zeros(1, 3, 32, 32)).shape[1])
"""


def test_timm_imports_and_runs_through_the_shim():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout.split()
    assert out[1] == "512"
    # patched is True only where the plain import fails (CUDA torchvision beside CPU torch)
    plain = subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True, text=True)
    expected = "True" if "torchvision::nms does not exist" in plain.stderr else "False"
    assert out[0] == expected


def test_other_import_errors_are_not_swallowed(monkeypatch):
    import builtins

    import fairvision._compat as compat

    real_import = builtins.__import__

    def failing(name, *args, **kwargs):
        if name == "torchvision":
            raise RuntimeError("some other failure")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "torchvision", raising=False)
    monkeypatch.setattr(builtins, "__import__", failing)
    with pytest.raises(RuntimeError, match="some other failure"):
        compat.import_torchvision()
