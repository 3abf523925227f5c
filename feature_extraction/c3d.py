"""C3D as the original Caffe Sports-1M model (Tran et al. 2015), fc7 after its ReLU.

conv1a 64, conv2a 128, conv3a/b 256, conv4a/b 512, conv5a/b 512, all 3x3x3 with padding 1;
pool1 1x2x2, pool2-5 2x2x2; fc6 4096, fc7 4096, fc8 487 (optional). Input (B, 3, 16, 112, 112),
0-255 minus a mean, in the channel order of the weights' origin (``preprocess.py``).

pool5 turns conv5b's 7x7 map into 4x4 in two ways:
- ``"caffe"``: Caffe rounds the output size up; its windows cover columns {0,1}, {2,3}, {4,5}, {6}.
  The Sports-1M fc6 was trained on this: right for every Caffe-derived file (``c3d.pickle``
  included, as converting a file does not change what its weights expect);
- ``"pytorch_port"``: the common PyTorch port (and mmaction2) pads (0, 1, 1) instead; its windows
  cover {-1,0}, {1,2}, {3,4}, {5,6}, a one-pixel shift. Right for weights trained with the port.
The weight loader picks the default per file origin.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

POOL5_MODES = ("caffe", "pytorch_port")
FC7_DIM = 4096  # the features C3D gives: fc7 after its ReLU
_CONVS = [("conv1a", 3, 64), ("conv2a", 64, 128), ("conv3a", 128, 256), ("conv3b", 256, 256),
          ("conv4a", 256, 512), ("conv4b", 512, 512), ("conv5a", 512, 512), ("conv5b", 512, 512)]
_POOL_AFTER = {"conv1a": (1, 2, 2), "conv2a": (2, 2, 2), "conv3b": (2, 2, 2), "conv4b": (2, 2, 2)}


class C3D(nn.Module):
    def __init__(self, pool5: str = "caffe", with_fc8: bool = False, num_classes: int = 487):
        super().__init__()
        if pool5 not in POOL5_MODES:
            raise ValueError(f"pool5 must be one of {POOL5_MODES}, got {pool5!r}")
        self.pool5_mode = pool5
        for name, cin, cout in _CONVS:
            setattr(self, name, nn.Conv3d(cin, cout, kernel_size=3, padding=1))
        if pool5 == "caffe":
            self.pool5 = nn.MaxPool3d(2, 2, ceil_mode=True)
        else:
            self.pool5 = nn.MaxPool3d(2, 2, padding=(0, 1, 1))
        self.fc6 = nn.Linear(8192, 4096)
        self.fc7 = nn.Linear(4096, FC7_DIM)
        self.fc8 = nn.Linear(FC7_DIM, num_classes) if with_fc8 else None

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, 16, 112, 112) -> (B, 4096) fc7 features after ReLU (dropout is off at inference)."""
        for name, _, _ in _CONVS:
            x = torch.relu(getattr(self, name)(x))
            if name in _POOL_AFTER:
                x = nn.functional.max_pool3d(x, _POOL_AFTER[name], _POOL_AFTER[name])
        x = self.pool5(x).flatten(1)
        return torch.relu(self.fc7(torch.relu(self.fc6(x))))
