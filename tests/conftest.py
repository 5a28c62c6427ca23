import numpy as np
import pytest
import torch

# Two cores: thread oversubscription costs far more than it gives on test-sized fits.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    np.random.seed(0)
    torch.manual_seed(0)
    yield


#: Docstring examples that fit networks at their defaults (two starts of depth 12,
#: about 30 s on one thread; an autoencoder's warm-up; a depth sweep: 6 to 7 s):
#: they run with the slow tests (``-m slow``).
_SLOW_EXAMPLES = ("skrank.regressor.DeepL2Regressor", "skrank.resnet.ResNetL2Regressor",
                  "skrank.autoencoder.BottleneckAutoencoder",
                  "skrank.model_selection.RankAwareDepthSelector")


def pytest_collection_modifyitems(items):
    for item in items:
        if item.nodeid.endswith(tuple("::" + name for name in _SLOW_EXAMPLES)):
            item.add_marker(pytest.mark.slow)
