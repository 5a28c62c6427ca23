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
