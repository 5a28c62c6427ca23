"""skrank: deep L2-regularized networks that tell you the rank of what they learned."""

from . import datasets, diagnostics, theory
from ._base import AmbiguousRankWarning
from ._engine import DivergenceWarning, TrainingInterruptedWarning
from .autoencoder import BottleneckAutoencoder
from .classifier import DeepL2Classifier
from .model_selection import RankAwareDepthSelector
from .persistence import load, save
from .regressor import DeepL2Regressor
from .resnet import ResNetL2Regressor

__version__ = "0.1.0"

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
