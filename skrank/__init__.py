"""skrank: deep L2-regularized networks that tell you the rank of what they learned."""

from importlib import metadata as _metadata

from . import datasets, diagnostics, theory
from ._base import AmbiguousRankWarning
from ._engine import DivergenceWarning, TrainingInterruptedWarning
from .autoencoder import BottleneckAutoencoder
from .classifier import DeepL2Classifier
from .model_selection import RankAwareDepthSelector
from .persistence import load, save
from .regressor import DeepL2Regressor
from .resnet import ResNetL2Regressor

try:  # one source of truth: pyproject.toml, read from the installed metadata
    __version__ = _metadata.version("skrank")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "BottleneckAutoencoder",
    "DeepL2Classifier",
    "DeepL2Regressor",
    "RankAwareDepthSelector",
    "ResNetL2Regressor",
    "AmbiguousRankWarning",
    "DivergenceWarning",
    "TrainingInterruptedWarning",
    "datasets",
    "diagnostics",
    "load",
    "save",
    "theory",
    "__version__",
]
