"""ResNet-50 with the last stride set to 1, the backbone BDB and PMM share.

torchvision's ResNet-50 up to ``layer4``, with ``layer4``'s first block (its 3x3 conv and its shortcut) at stride 1,
so a 384x128 crop gives a 2048x24x8 map instead of 2048x12x4: the finer map keeps the spatial detail that Batch
DropBlock and Hard-Mix operate on. Module names equal torchvision's (``conv1``, ``bn1``, ``layer1``..``layer4``), so
torchvision's ImageNet file loads as it is (its ``fc`` is dropped).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models import resnet50
from torchvision.models.resnet import Bottleneck

__all__ = ["ResNet50LastStride1", "extra_bottleneck", "init_head", "RESNET50_IMAGENET_FILES"]

# File names torchvision uses in the torch hub cache for ResNet-50 ImageNet weights (V1 first: the papers used it).
RESNET50_IMAGENET_FILES = ("resnet50-0676ba61.pth", "resnet50-19c8e357.pth", "resnet50-11ad3fa6.pth")


class ResNet50LastStride1(nn.Module):
    """(N, 3, H, W) -> (N, 2048, H/16, W/16)."""

    out_channels = 2048

    def __init__(self):
        super().__init__()
        tv = resnet50(weights=None)
        tv.layer4[0].conv2.stride = (1, 1)
        tv.layer4[0].downsample[0].stride = (1, 1)
        self.conv1, self.bn1, self.relu, self.maxpool = tv.conv1, tv.bn1, tv.relu, tv.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = tv.layer1, tv.layer2, tv.layer3, tv.layer4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def load_imagenet(self, path: str | Path) -> dict:
        """Load torchvision's ResNet-50 ImageNet state_dict (``fc.*`` ignored; every other tensor must match)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ResNet-50 ImageNet weights {str(path)!r} do not exist")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - re-raised with the file name
            raise ValueError(f"could not read {str(path)!r} as a tensor-only state_dict ({exc})") from exc
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        state = {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        missing, unexpected = self.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{str(path)!r} is not a torchvision ResNet-50 state_dict: {len(missing)} missing tensors "
                f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]})"
            )
        return {"loaded": sorted(state), "skipped": ["fc.weight", "fc.bias"]}


def extra_bottleneck() -> Bottleneck:
    """A fresh ResNet bottleneck 2048 -> 512 -> 2048 (no downsampling), as BDB and PMM add after layer4."""
    return Bottleneck(2048, 512)


def init_head(*modules: nn.Module | None) -> None:
    """Initialise the layers BDB and PMM add on the backbone: Kaiming for reductions, N(0, 0.001) for
    classifiers (bare ``nn.Linear`` arguments), unit/zero batch norms."""
    for mod in modules:
        if mod is None:
            continue
        if isinstance(mod, nn.Linear):  # a classifier
            nn.init.normal_(mod.weight, 0.0, 0.001)
            nn.init.zeros_(mod.bias)
            continue
        for m in mod.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
