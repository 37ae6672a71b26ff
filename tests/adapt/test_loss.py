"""The triplet loss takes negatives only from labels known to be different people."""
import torch

from trackreid.adapt.loss import known_negative_triplet


def test_labels_never_seen_together_are_not_pushed_apart():
    feats = torch.tensor([[1.0, 0.0], [0.99, 0.1], [1.0, 0.02], [0.98, 0.12]])  # two labels, all alike
    labels = torch.tensor([0, 0, 1, 1])
    unknown = torch.zeros(2, 2, dtype=torch.bool)
    loss, used = known_negative_triplet(feats, labels, unknown)
    assert used == 0 and float(loss) == 0.0
    known = torch.tensor([[False, True], [True, False]])
    loss, used = known_negative_triplet(feats, labels, known)
    assert used == 4 and float(loss) > 0.2  # alike but known different: the margin is violated


def test_gradient_separates_known_negatives():
    torch.manual_seed(0)
    feats = torch.randn(8, 4, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    known = torch.ones(4, 4, dtype=torch.bool)
    known.fill_diagonal_(False)
    opt = torch.optim.SGD([feats], lr=0.5)
    first = None
    for _ in range(50):
        loss, _ = known_negative_triplet(feats, labels, known)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < first
