# Copyright (c) mmfa contributors. All rights reserved.
import torch
from torch import nn

from mmfa.engine.hooks import update_bn_stats_train_mode


class ToyModel(nn.Module):
    """A model with the mmengine calling convention and two BN layers."""

    def __init__(self):
        super().__init__()
        self.bn1 = nn.BatchNorm1d(3)
        self.fc = nn.Linear(3, 3)
        self.bn2 = nn.BatchNorm1d(3)
        self.frozen = nn.BatchNorm1d(3).eval()  # not in training: untouched

    def data_preprocessor(self, data, training):
        assert training  # the statistics of training-mode batches
        return dict(inputs=data['inputs'] * 2.0)

    def forward(self, inputs, mode):
        assert mode == 'loss'
        self.frozen(inputs)
        return {'loss': self.bn2(self.fc(self.bn1(inputs))).sum()}


def test_running_stats_are_the_mean_of_batch_stats():
    torch.manual_seed(0)
    model = ToyModel().train()
    model.frozen.eval()
    batches = [
        dict(inputs=torch.randn(8, 3) * (i + 1) + i) for i in range(4)
    ]
    frozen_before = model.frozen.running_mean.clone()
    assert update_bn_stats_train_mode(model, batches, num_iters=3) == 2
    inputs = [b['inputs'] * 2.0 for b in batches[:3]]
    expected_mean = torch.stack([x.mean(0) for x in inputs]).mean(0)
    expected_var = torch.stack([x.var(0, unbiased=True)
                                for x in inputs]).mean(0)
    torch.testing.assert_close(model.bn1.running_mean, expected_mean)
    torch.testing.assert_close(model.bn1.running_var, expected_var)
    # the second BN sees the first BN's (batch-normalised) output
    with torch.no_grad():
        hidden = [
            model.fc(nn.functional.batch_norm(x, None, None, model.bn1.weight,
                                              model.bn1.bias, True))
            for x in inputs
        ]
    torch.testing.assert_close(
        model.bn2.running_mean,
        torch.stack([h.mean(0) for h in hidden]).mean(0))
    assert model.bn1.momentum == 0.1 and model.bn2.momentum == 0.1
    assert torch.equal(model.frozen.running_mean, frozen_before)
