"""An OSNet exported to ONNX, read back as a PyTorch checkpoint.

Model zoos publish some encoders only as ONNX files (BoxMOT's ``osnet_x0_25_msmt17.onnx``, for one). Reading the
graph's initialisers into our own network lets such a file run in PyTorch, be fine-tuned and be exported again.

Exports fold each batch norm into the convolution before it (the convolution gains a bias, the norm disappears).
PyTorch's exporter names each node after the module it came from (``/conv2/conv2.0/conv2a/conv2/Conv``), so every
layer and norm of our network is found in the graph by its own name (shapes checked). Which norm reads which
layer's output is found by running our network once; a folded layer's bias goes to that norm, whose statistics
become an identity (mean 0, variance 1 - eps, scale 1), so the restored network computes what the graph computes.
The architecture is the OSNet variant whose layers all match the graph.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

__all__ = ["OnnxCheckpointError", "onnx_state_dict", "read_onnx_checkpoint"]

_LAYER_OPS = ("Conv", "Gemm", "MatMul")
_NORM_OPS = ("BatchNormalization", "InstanceNormalization")


def _norm_types() -> tuple:
    from torch import nn

    return nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d


class OnnxCheckpointError(ValueError):
    """The ONNX file is not an export of a network this loader can rebuild."""


def _scope(node_name: str) -> list[str]:
    """Module path of a node named by PyTorch's exporter: ``/conv2/conv2.0/gate/fc2_3/Conv`` -> conv2.0.gate.fc2
    (a child of a container appears as ``parent.k`` after ``parent``; a repeated call adds ``_N``)."""
    parts: list[str] = []
    for comp in node_name.strip("/").split("/")[:-1]:
        if parts and comp.startswith(parts[-1] + "."):
            parts[-1] = comp
        else:
            parts.append(comp)
    return parts


def _graph_layers(path: Path):
    """(layers, norms, input_size) of the graph, keyed by the module path each node was exported from:
    layers[path] = (op, weight, bias or None), norms[path] = (op, [scale, bias, mean, var])."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - onnx raises several types for unreadable files
        raise OnnxCheckpointError(f"{path}: not a readable ONNX file ({type(exc).__name__}: {exc})") from None
    init = {t.name: numpy_helper.to_array(t).copy() for t in model.graph.initializer}
    layers, norms = {}, {}
    for node in model.graph.node:
        scope = ".".join(_scope(node.name))
        if node.op_type in _LAYER_OPS:
            weight = init.get(node.input[1]) if len(node.input) > 1 else None
            if weight is None:
                continue  # a product of two activations, not a layer with weights
            bias = init.get(node.input[2]) if len(node.input) > 2 else None
            if node.op_type == "Gemm":
                attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
                if not attrs.get("transB", 0):
                    weight = weight.T
            elif node.op_type == "MatMul":
                weight = weight.T
            layers.setdefault(scope, (node.op_type, np.ascontiguousarray(weight), bias))
        elif node.op_type in _NORM_OPS:
            norms.setdefault(scope, (node.op_type, [init.get(name) for name in node.input[1:]]))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    size = tuple(int(d.dim_value) for d in dims[2:4]) if len(dims) == 4 else ()
    return layers, norms, (size if len(size) == 2 and all(size) else None)


def _lookup(table: dict, name: str):
    """The graph entry exported from our module ``name`` (exact, or with the exporter's ``_N`` call suffixes)."""
    if name in table:
        return table[name]
    for scope, entry in table.items():
        if re.sub(r"_\d+(?=\.|$)", "", scope) == name:
            return entry
    return None


def _without_wrapper(model, table: dict, layers_of: dict | None = None) -> dict:
    """``table`` with the scope of a wrapping module removed (an export of ``Wrapper(net)`` names nodes
    ``net.conv1.conv``): the prefix is what the graph's first layer has before our first layer's name."""
    from torch import nn

    first = next(name for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    scope = next(iter(layers_of if layers_of is not None else table), "")
    if not scope.endswith("." + first):
        return table
    prefix = scope[: -len(first)]
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in table.items()}


def _norm_after(model, input_size) -> dict:
    """For each convolution/linear layer of ``model``, the norm that reads its output (found by running it once)."""
    import torch
    from torch import nn

    produced_by, norm_of = {}, {}

    def hook(module, inputs, output):
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            produced_by[output.data_ptr()] = module
        elif inputs and inputs[0].data_ptr() in produced_by:
            norm_of[produced_by[inputs[0].data_ptr()]] = module

    kinds = (nn.Conv2d, nn.Linear) + _norm_types()
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, *input_size))
    finally:
        for h in handles:
            h.remove()
    return norm_of


def _fill(model, layers: dict, norms: dict, input_size, path: Path) -> None:
    """Copy the graph's arrays into ``model``; raise OnnxCheckpointError on the first mismatch."""
    import torch
    from torch import nn

    norm_of = _norm_after(model, input_size)
    layers, norms = _without_wrapper(model, layers), _without_wrapper(model, norms, layers_of=layers)
    folded = set()
    for name, module in model.named_modules():
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            continue
        entry = _lookup(layers, name)
        if entry is None:
            raise OnnxCheckpointError(f"{path}: no graph node was exported from layer {name}")
        op, weight, bias = entry
        if tuple(module.weight.shape) != weight.shape:
            raise OnnxCheckpointError(f"{path}: {name} has weights {weight.shape} in the graph, "
                                      f"{tuple(module.weight.shape)} in this architecture")
        module.weight.data.copy_(torch.from_numpy(weight))
        if module.bias is not None:
            module.bias.data.copy_(torch.from_numpy(bias) if bias is not None else torch.zeros_like(module.bias))
        elif bias is not None:
            norm = norm_of.get(module)
            if norm is None or not getattr(norm, "track_running_stats", False):
                raise OnnxCheckpointError(f"{path}: {name} has a bias in the graph but no batch norm after it "
                                          "in this architecture")
            folded.add(norm)
            norm.weight.data.fill_(1.0)
            norm.bias.data.copy_(torch.from_numpy(bias))
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)  # (x - 0) / sqrt(1 - eps + eps) * 1 + bias = x + bias
    for name, norm in model.named_modules():
        if not isinstance(norm, _norm_types()) or norm in folded:
            continue
        entry = _lookup(norms, name)
        want = "BatchNormalization" if getattr(norm, "track_running_stats", False) else "InstanceNormalization"
        if entry is None or entry[0] != want or any(a is None for a in entry[1]):
            raise OnnxCheckpointError(f"{path}: norm {name} is neither folded into a layer nor a {want} node "
                                      "of the graph")
        for param, array in zip(("weight", "bias", "running_mean", "running_var"), entry[1]):
            getattr(norm, param).data.copy_(torch.from_numpy(np.asarray(array, dtype=np.float32)))


def _candidates(first_conv_shape: tuple) -> list[str]:
    from .models.registry import build_model, list_models

    out = []
    for name in list_models():
        if not name.startswith("osnet"):
            continue
        model = build_model(name, num_classes=0)
        conv = next(m for m in model.modules() if hasattr(m, "weight") and getattr(m.weight, "ndim", 0) == 4)
        if tuple(conv.weight.shape) == first_conv_shape:
            out.append(name)
    return out


def onnx_state_dict(path: str | Path, arch: str | None = None):
    """(state_dict, arch, input_size) of an OSNet ONNX export, rebuilt in our parameter names."""
    from .models.registry import build_model, get_spec

    path = Path(path)
    layers, norms, input_size = _graph_layers(path)
    first = next(iter(layers.values()), None)
    if first is None or first[1].ndim != 4:
        raise OnnxCheckpointError(f"{path}: no convolution found at the start of the graph; only OSNet exports "
                                  "can be read as checkpoints (run the file as an exported model instead)")
    names = [arch] if arch else _candidates(tuple(first[1].shape))
    errors = []
    for name in names:
        spec = get_spec(name)
        size = input_size or tuple(spec.input_size)
        model = build_model(name, num_classes=0)
        try:
            _fill(model, layers, norms, size, path)
        except OnnxCheckpointError as exc:
            errors.append(f"{name}: {str(exc).split(': ', 1)[-1]}")
            continue
        return {k: v.detach().clone() for k, v in model.state_dict().items()}, name, size
    why = "; ".join(errors) if errors else "no OSNet variant has its first convolution's shape"
    raise OnnxCheckpointError(f"{path}: not an OSNet export this loader can rebuild ({why}); run it as an "
                              "exported model (runtime onnxruntime) instead")


def read_onnx_checkpoint(path: str | Path, arch: str | None = None):
    """A :class:`~trackreid.reid.weights.Checkpoint` (kind ``"onnx"``) holding the rebuilt state_dict."""
    from .weights import Checkpoint

    state_dict, name, size = onnx_state_dict(path, arch)
    return Checkpoint(state_dict, "onnx", name, 0, Path(path), {"input_size": list(size)})
