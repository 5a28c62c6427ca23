"""Held-out multi-output teachers of known rank, with target noise (bench_rank.py's
fifth table): families, input laws and noise levels the rest of this repository
does not use, so that nothing here was tuned on them.

A teacher is ``y = B h(A x)``: ``k`` projections ``z = A x`` (each scaled to a unit
robust spread), ``m >= k`` features ``h(z)`` that use every projection, and a random
read-out ``B`` to 4-20 outputs. Its Jacobian has rank ``k`` almost everywhere.
Families: softplus and sigmoid units; cubics and products of projections;
absolute values (kinks); sines plus squares; a mix of all. Inputs: uniform on a
cube, Student-t with 3 degrees of freedom (heavy tails) and correlated Gaussian
(condition number 30). Targets: clean, or with Gaussian noise at a signal-to-noise
ratio (per-output standard deviations) of 10 or 3.
"""

import numpy as np

FAMILIES = ("softplus_sigmoid", "products_cubic", "abs", "sin_sq", "mixed")
INPUTS = ("uniform", "t3", "corrgauss")
N_TEST = 1000


def _softplus(z):
    return np.logaddexp(0.0, z)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _sampler(kind, d, rng):
    if kind == "uniform":
        return lambda n, r: r.uniform(-1.0, 1.0, size=(n, d))
    if kind == "t3":
        return lambda n, r: r.standard_t(3, size=(n, d))
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    chol = np.linalg.cholesky((Q * np.geomspace(1.0, 1.0 / 30.0, d)) @ Q.T)
    return lambda n, r: r.standard_normal((n, d)) @ chol.T


def _features(family, z):
    k = z.shape[1]
    cols = []
    for i in range(k):
        u, v = z[:, i], z[:, (i + 1) % k]
        if family == "softplus_sigmoid":
            cols += [_softplus(2 * u), _sigmoid(2 * u - 0.5)]
        elif family == "products_cubic":
            cols += [u ** 3 - 1.5 * u + 0.5 * u ** 2, u * v if k > 1 else u ** 2]
        elif family == "abs":
            cols += [np.abs(u), np.abs(u - 0.5)]
        elif family == "sin_sq":
            cols += ([np.sin(2 * u) + v ** 2, np.sin(u)] if k > 1
                     else [np.sin(2 * u), np.sin(u), u ** 2])
        else:  # mixed
            fs = [lambda t: _softplus(2 * t), lambda t: _sigmoid(2 * t), np.abs,
                  lambda t: t ** 3 - t, np.sin]
            cols += [fs[i % 5](u), fs[(i + 2) % 5](u)]
    for i in range(k - 1):
        if family == "softplus_sigmoid":
            cols.append(_sigmoid(z[:, i] - z[:, i + 1]))
        elif family == "abs":
            cols.append(np.abs(z[:, i] + z[:, i + 1]))
    if family == "mixed" and k > 1:
        cols.append(z[:, 0] * z[:, 1])
    return np.column_stack(cols)


class Teacher:
    """``y = B h(A x)`` of rank ``k`` on ``d`` inputs and ``n_out`` outputs."""

    def __init__(self, family, inputs, d, n_out, k, index, teachers=0):
        # teachers=0: the functions every recorded run read; another value draws
        # new ones (maps, read-outs and input laws' parameters)
        rng = np.random.default_rng(1000 + index if not teachers else (teachers, index))
        self.family = family
        self.sample = _sampler(inputs, d, rng)
        A = rng.standard_normal((k, d))
        # unit robust spread (1.4826 x median absolute deviation: t3 has heavy tails)
        Z = self.sample(20000, np.random.default_rng(5)) @ A.T
        mad = np.median(np.abs(Z - np.median(Z, 0)), 0) * 1.4826
        self.A = A / mad[:, None]
        m = _features(family, Z[:10] / mad).shape[1]
        self.B = rng.standard_normal((n_out, m)) / np.sqrt(m)

    def __call__(self, X):
        return _features(self.family, X @ self.A.T) @ self.B.T


def configs(draw=0, teachers=0):
    """48 teachers, each with its data draw: ``draw`` redraws the data (and the
    network's seed) of the same teachers; ``teachers`` other than 0 draws other
    functions and sizes of the same families (0: those of every recorded run)."""
    rng = np.random.default_rng(2026 if not teachers else (2026, teachers))
    out = []
    for i in range(48):
        family, inputs = FAMILIES[i % 5], INPUTS[(i // 5) % 3]
        if inputs == "t3" and family == "products_cubic":
            family = "abs"  # polynomials of t3 inputs have no finite variance
        k = 1 + i % 4
        d = int(rng.integers(8, 31))
        n_out = int(rng.integers(max(4, k + 1), 21))
        out.append(dict(index=i, family=family, inputs=inputs, d=d, n_out=n_out, k=k,
                        n=(300, 1000)[(i + i // 4) % 2], snr=(None, 10.0, 3.0)[(i // 3) % 3],
                        # draws 4-7 and on: other seeds (not draws 0-3 again)
                        seed=11 + (i // 4 + draw) % 4 + 4 * (draw // 4),
                        teachers=teachers))
    return out


def data(c):
    """Training rows (noisy targets at ``c['snr']``), and clean test rows."""
    teacher = Teacher(c["family"], c["inputs"], c["d"], c["n_out"], c["k"], c["index"],
                      c.get("teachers", 0))
    r = np.random.default_rng(c["seed"] * 100 + c["index"])
    X = teacher.sample(c["n"], r)
    Y = teacher(X)
    X_test = teacher.sample(N_TEST, r)
    Y_test = teacher(X_test)
    if c["snr"]:
        Y = Y + r.standard_normal(Y.shape) * (Y.std(0) / c["snr"])
    return X, Y, X_test, Y_test
