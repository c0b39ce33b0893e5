"""User-factory models of the benchmarks, written as their authors wrote them (no initopt in them)."""

from torch import nn


class ConvBase(nn.Module):
    """The CNN of the MNIST-1D paper (Greydanus 2020, ``mnist1d/models.py``): three Conv1d of 25
    channels (stride 2) and a Linear head, 40 samples in."""

    def __init__(self, output_size: int = 10, channels: int = 25, linear_in: int = 125):
        super().__init__()
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.linear = nn.Linear(linear_in, output_size)

    def forward(self, x):
        x = x.view(-1, 1, x.shape[-1])
        h1 = self.conv1(x).relu()
        h2 = self.conv2(h1).relu()
        h3 = self.conv3(h2).relu()
        h3 = h3.view(h3.shape[0], -1)
        return self.linear(h3)


def mnist1d_cnn(n_features: int, out: int, **options):
    return ConvBase(out, **options)
