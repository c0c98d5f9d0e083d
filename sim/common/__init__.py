"""Golden models of the shared building blocks in :mod:`tatami.hw.common`."""

from .models import FifoModel, LfsrModel, MatrixArbiterModel, RoundRobinArbiterModel

__all__ = ["FifoModel", "LfsrModel", "MatrixArbiterModel", "RoundRobinArbiterModel"]
