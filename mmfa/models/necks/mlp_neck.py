# Copyright (c) mmfa contributors. All rights reserved.
from typing import List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmfa.registry import MODELS


@MODELS.register_module()
class MLPNeck(BaseModule):
    """A plain MLP projector without normalisation layers.

    SimCLR's projector (Linear-ReLU-Linear, no BN), the "Basic" layout of Zhang et
    al., arXiv:2410.12396 (Fig. 2(a)). mmpretrain's ``NonLinearNeck`` always puts a
    norm layer after its hidden linear layers, so it cannot express this one; every
    projector with BN (the strong projector, the predictor) is a ``NonLinearNeck``.

    Args:
        in_channels (int): Input channels.
        hid_channels (int): Hidden channels.
        out_channels (int): Output channels.
        num_layers (int): Linear layers (ReLU between them). Defaults to 2.
        with_avg_pool (bool): Global-average-pool a 4-D input first.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: int,
                 out_channels: int,
                 num_layers: int = 2,
                 with_avg_pool: bool = True,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg)
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        self.with_avg_pool = with_avg_pool
        dims = [in_channels] + [hid_channels] * (num_layers - 1) + [
            out_channels
        ]
        layers = []
        for i in range(num_layers):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i < num_layers - 1:
                layers.append(nn.ReLU(inplace=True))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: Tuple[torch.Tensor]) -> Tuple[torch.Tensor]:
        """Project the last backbone stage; returns a 1-tuple like mmpretrain's
        necks."""
        if len(x) != 1:
            raise ValueError(f'MLPNeck takes one feature map, got {len(x)}')
        x = x[0]
        if self.with_avg_pool and x.dim() == 4:
            x = x.mean(dim=(2, 3))
        return (self.mlp(x.flatten(1)), )
