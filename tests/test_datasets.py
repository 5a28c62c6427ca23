import numpy as np
import pytest

from skrank.datasets import make_bottleneck_regression, make_low_rank_regression


def test_bottleneck_regression_ground_truth():
    X, y, Z = make_bottleneck_regression(300, rank=3, return_latent=True, random_state=0)
    assert X.shape == (300, 20) and y.shape == (300, 20) and Z.shape == (300, 8)
    # y depends on the first `rank` latent coordinates only: same z_1..z_3, same y
    X2, y2, Z2 = make_bottleneck_regression(300, rank=3, return_latent=True,
                                            random_state=0)
    np.testing.assert_array_equal(y, y2)
    assert abs(X.std() - 1) < 1e-12 and np.allclose(y.mean(0), 0)


def test_low_rank_regression_has_rank_k_structure():
    X, y = make_low_rank_regression(400, rank=5, random_state=0)
    assert X.shape == (400, 50) and y.shape == (400, 50)
    # a least-squares linear fit of y from X has (at most) rank-5 signal: y depends
    # on X only through a 5-dimensional projection
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    s = np.linalg.svd(coef, compute_uv=False)
    assert s[5] / s[0] < 0.2


def test_dataset_parameters_are_validated():
    with pytest.raises(ValueError, match="rank"):
        make_bottleneck_regression(10, rank=9)
    with pytest.raises(ValueError, match="n_samples"):
        make_low_rank_regression(0)
