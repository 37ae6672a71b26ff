"""The weights ``trackreid-adapt`` writes: the trained ones blended with the starting ones."""
import torch
from torch import nn

from trackreid.adapt.trainer import blend_weights


def _net(fill: float) -> nn.Module:
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(fill)
        net[1].running_mean.fill_(fill)
    net[1].num_batches_tracked.fill_(7 if fill else 0)
    return net


def test_blend_is_the_interpolation_of_every_float_tensor_and_keeps_counters():
    start = {k: v.clone() for k, v in _net(0.0).state_dict().items()}
    half = blend_weights(_net(2.0), start, 0.5).state_dict()
    assert all(torch.allclose(half[k], torch.ones_like(half[k])) for k in half if half[k].is_floating_point()
               and k != "1.running_var")   # running_var: 1 in both, stays 1
    assert int(half["1.num_batches_tracked"]) == 7  # an integer buffer is not interpolated
    trained = blend_weights(_net(2.0), start, 1.0).state_dict()
    assert torch.equal(trained["0.weight"], torch.full((2, 3), 2.0))  # 1: the trained weights as they are
    back = blend_weights(_net(2.0), start, 0.0).state_dict()
    assert all(torch.equal(back[k], start[k]) for k in back if back[k].is_floating_point())  # 0: the start
