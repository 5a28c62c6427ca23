"""Batched L-BFGS (skrank._lbfgs): torch's algorithm, one path per problem.

Every objective here is written with explicit gradients, one problem per row, so that
a problem's f and g are the same bits whether it is evaluated alone or in a batch:
any difference between a batched and a separate run comes from the optimizer.
"""

import math

import pytest
import torch

from skrank._lbfgs import BatchedLBFGS, _cubic_interpolate

F64 = torch.float64
TORCH_LBFGS = dict(lr=1, max_iter=1, max_eval=26, history_size=20, tolerance_grad=1e-9,
                   tolerance_change=1e-12, line_search_fn="strong_wolfe")


# ---------------------------------------------------------------- problems
def logistic(seed, n=80, p=12, alpha=1e-3, scale=3.0, dtype=F64):
    """L2-regularized logistic regression on random data: w -> (f, g)."""
    gen = torch.Generator().manual_seed(seed)
    X = (torch.randn(n, p, generator=gen, dtype=F64) * scale).to(dtype)
    y = (torch.rand(n, generator=gen, dtype=F64) < 0.5).to(dtype)

    def fn(w):
        z = X @ w
        f = torch.nn.functional.softplus(z).mean() - (y * z).mean() + 0.5 * alpha * w.dot(w)
        return f, X.T @ (torch.sigmoid(z) - y) / n + alpha * w

    return fn


def rosenbrock(alpha=0.0):
    """Rosenbrock function (plus alpha/2 |w|^2): w -> (f, g)."""

    def fn(w):
        a, b = w[:-1], w[1:]
        f = (100 * (b - a**2) ** 2 + (1 - a) ** 2).sum() + 0.5 * alpha * w.dot(w)
        g = alpha * w
        g = torch.cat([g[:-1] - 400 * a * (b - a**2) - 2 * (1 - a), g[-1:]])
        g[1:] += 200 * (b - a**2)
        return f, g

    return fn


def quadratic(seed, p=10, cond=1e3, dtype=F64):
    """0.5 (w - w*)'A(w - w*), A SPD, w* = A^-1 b: (fn, w*).

    Written around its minimizer so that f is 0 there: a line search compares values
    of f, which resolve |w - w*| only to sqrt(eps |f| / lambda).
    """
    gen = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(p, p, generator=gen, dtype=F64))
    A = Q @ torch.diag(torch.logspace(0, math.log10(cond), p, dtype=F64)) @ Q.T
    b = torch.randn(p, generator=gen, dtype=F64)
    w_star = torch.linalg.solve(A, b)
    A_, w_star_ = A.to(dtype), w_star.to(dtype)

    def fn(w):
        Ae = A_ @ (w - w_star_)
        return 0.5 * (w - w_star_).dot(Ae), Ae

    return fn, w_star


def kinked(seed, p=10, lam=0.1):
    """A quadratic plus lam |w|_1: kinks, as ReLU networks have, make line searches
    run out of budget (max_ls) and stop on the bracket tolerance."""
    fn_q, _ = quadratic(seed, p=p, cond=100)

    def fn(w):
        f, g = fn_q(w)
        return f + lam * w.abs().sum(), g + lam * torch.sign(w)

    return fn


def batched(fns):
    """One batched objective from per-row objectives."""

    def fun(x):
        fs, gs = zip(*(fn(row) for fn, row in zip(fns, x)))
        return torch.stack(fs), torch.stack(gs)

    return fun


def drive(fns, x0, n_iter, active_at=None, reset_at=None, reset_on_stall=True, **kwargs):
    """The engine's loop: stop converged or non-finite problems, reset on no progress.

    active_at(it) -> mask of the problems the caller keeps active at iteration it
    (None: all that have not stopped); reset_at: {iteration: reset mask}.
    Returns the iterates (n_iter + 1, S, P), the statuses and evaluation counts.
    """
    opt = BatchedLBFGS(**kwargs)
    fun = batched(fns)
    x, f, g = x0.clone(), None, None
    stopped = [False] * len(fns)
    xs, statuses, evals = [x], [], []
    for it in range(n_iter):
        if reset_at and it in reset_at:
            opt.reset(reset_at[it])
        active = [not s for s in stopped]
        if active_at is not None:
            active = [a and b for a, b in zip(active, active_at(it))]
        x, f, g, status, n_evals = opt.step(x, fun, f, g, active=active)
        stopped = [s or st in ("converged", "nonfinite") for s, st in zip(stopped, status)]
        if reset_on_stall:
            opt.reset([st == "no_progress" for st in status])
        xs.append(x)
        statuses.append(status)
        evals.append(n_evals)
    return torch.stack(xs), statuses, evals, opt


def torch_path(fn, w0, n_iter):
    """torch.optim.LBFGS stepped once per iteration, as the engine drives it.

    Returns the iterates and the evaluations per step (closure calls).
    """
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([w], **TORCH_LBFGS)
    calls = [0]

    def closure():
        calls[0] += 1
        f, g = fn(w.detach())
        w.grad = g.clone()
        return f

    path, evals = [w.detach().clone()], []
    for _ in range(n_iter):
        calls[0] = 0
        opt.step(closure)
        path.append(w.detach().clone())
        evals.append(calls[0])
    return torch.stack(path), evals


def separate(fns, x0, n_iter, **kwargs):
    """Each problem run alone (S=1)."""
    runs = [drive([fn], x0[i:i + 1], n_iter, **kwargs) for i, fn in enumerate(fns)]
    xs = torch.cat([r[0] for r in runs], dim=1)
    statuses = [[r[1][it][0] for r in runs] for it in range(n_iter)]
    evals = [[r[2][it][0] for r in runs] for it in range(n_iter)]
    return xs, statuses, evals


# ------------------------------------------------------------------- tests
@pytest.mark.parametrize("case", ["logistic", "rosenbrock", "kinked"])
def test_single_problem_reproduces_torch_lbfgs(case):
    w0 = torch.full((12,), 0.5, dtype=F64)
    if case == "logistic":
        # 15 moves, then no descent direction left (g'd > -1e-12): neither moves
        fn, n_iter, atol = logistic(0), 25, 1e-10
    elif case == "rosenbrock":
        # long enough for the curvature memory (20 pairs) to roll over
        fn, n_iter, atol = rosenbrock(), 45, 1e-9
        w0 = torch.tensor([-1.2, 1.0] * 3, dtype=F64)
    else:
        fn, n_iter, atol = kinked(0), 30, 1e-10
        w0 = w0[:10]
    # torch keeps its memory when stalled: no resets here
    xs, statuses, evals, _ = drive([fn], w0[None], n_iter, reset_on_stall=False)
    assert sum(st[0] == "ok" for st in statuses) >= 15
    expected, torch_evals = torch_path(fn, w0, n_iter)
    torch.testing.assert_close(xs[:, 0], expected, rtol=0, atol=atol)
    # the same line searches: torch evaluates once more at the start of each step
    # (the first step here evaluates too: no f, g given)
    assert [e[0] for e in evals] == [torch_evals[0]] + [e - 1 for e in torch_evals[1:]]
    assert max(e[0] for e in evals) >= 2          # line searches longer than one trial
    assert xs[-1].sub(xs[0]).abs().max() > 0.1
    if case == "kinked":
        assert max(e[0] for e in evals) == 26      # the max_ls budget was exhausted


def test_batched_problems_follow_their_separate_paths():
    # line searches of 1 to 26 evaluations (the kinked problem) side by side
    fns = [logistic(1, alpha=1e-2), logistic(2, alpha=1e-4, scale=1.0), rosenbrock(0.0),
           kinked(0, p=12), rosenbrock(0.5)]
    x0 = torch.tensor([[-1.2, 1.0] * 6], dtype=F64).repeat(5, 1)
    x0[0] *= 0.3
    x0[3] += 0.5
    xs, statuses, evals, _ = drive(fns, x0, 40)
    xs_sep, statuses_sep, evals_sep = separate(fns, x0, 40)
    assert max(e[3] for e in evals) > 10
    # rounding only: the direction's small products take the batch's longest
    # history (measured 2e-12 here; a wrong pair or line search moves by > 1e-3)
    torch.testing.assert_close(xs, xs_sep, rtol=0, atol=1e-10)
    assert statuses == statuses_sep
    assert evals == evals_sep
    # the test means something only if the line searches ran for different lengths
    assert any(len({e for e, st in zip(ev, sts) if st == "ok"}) > 1
               for ev, sts in zip(evals, statuses))
    assert sum(st.count("ok") for st in statuses) > 80


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    fns = [logistic(1), rosenbrock(0.5)]
    x0 = torch.full((2, 12), 0.5, dtype=F64)
    xs_cpu, statuses_cpu, _, _ = drive(fns, x0, 20)
    cuda_fns = [lambda w, fn=fn: tuple(t.cuda() for t in fn(w.cpu())) for fn in fns]
    xs_cuda, statuses_cuda, _, _ = drive(cuda_fns, x0.cuda(), 20)
    assert xs_cuda.is_cuda and statuses_cuda == statuses_cpu
    torch.testing.assert_close(xs_cuda.cpu(), xs_cpu, rtol=0, atol=1e-10)


def test_nonfinite_problem_frozen_others_unaffected():
    fns = [logistic(4), logistic(5, alpha=1e-2), rosenbrock(0.1), logistic(6)]
    x0 = torch.full((4, 12), 0.5, dtype=F64)
    healthy, _, _ = separate(fns, x0, 25)
    # problem 1 gives NaN below an objective value its healthy path crosses at step 6
    f5, f6 = fns[1](healthy[5, 1])[0], fns[1](healthy[6, 1])[0]
    threshold, healthy_fn = (f5 + f6) / 2, fns[1]

    def poisoned(w):
        f, g = healthy_fn(w)
        return (f * math.nan, g * math.nan) if f < threshold else (f, g)

    fns[1] = poisoned
    # problem 3 is stopped by the caller after 3 iterations
    xs, statuses, _, _ = drive(fns, x0, 25, active_at=lambda it: [True, True, True, it < 3])

    k = next(it for it, st in enumerate(statuses) if st[1] == "nonfinite")
    assert 1 <= k <= 5
    assert all(st[1] == "ok" for st in statuses[:k])
    torch.testing.assert_close(xs[:k + 1, 1], healthy[:k + 1, 1], rtol=0, atol=1e-12)
    # frozen at its last finite point, bitwise, from the failing step on
    assert all(torch.equal(xs[it, 1], xs[k, 1]) for it in range(k, 26))
    # the others follow their separate runs (up to the rounding of the direction)
    torch.testing.assert_close(xs[:, [0, 2]], healthy[:, [0, 2]], rtol=0, atol=1e-10)
    # the inactive problem does not move, not even by rounding, while the others do
    assert all(torch.equal(xs[it, 3], xs[3, 3]) for it in range(3, 26))
    assert all(st[3] == "inactive" for st in statuses[3:])
    torch.testing.assert_close(xs[:4, 3], healthy[:4, 3], rtol=0, atol=1e-12)
    assert not torch.equal(xs[25, 0], xs[3, 0])


def test_paused_problem_resumes_its_own_path():
    # while paused, a problem's memory must stay put as the others' memories move on
    fns = [logistic(10), rosenbrock(0.3), logistic(11, alpha=1e-2)]
    x0 = torch.tensor([[-1.2, 1.0] * 6], dtype=F64).repeat(3, 1)
    xs, statuses, _, _ = drive(fns, x0, 30, active_at=lambda it: [True, not 4 <= it < 9,
                                                                  True])
    alone, _ = separate(fns, x0, 30)[:2]
    torch.testing.assert_close(xs[:, [0, 2]], alone[:, [0, 2]], rtol=0, atol=1e-12)
    assert all(st[1] == "inactive" for st in statuses[4:9])
    torch.testing.assert_close(xs[:5, 1], alone[:5, 1], rtol=0, atol=1e-12)
    torch.testing.assert_close(xs[9:, 1], alone[4:26, 1], rtol=0, atol=1e-12)
    assert (alone[9:, 1] - alone[4:26, 1]).abs().max() > 0.1


def test_nonfinite_start_and_inactive_rows_keep_their_bits():
    fn = logistic(7)
    fun = batched([fn, lambda w: (fn(w)[0] * math.nan, fn(w)[1]), fn])
    x = torch.full((3, 12), 0.5, dtype=F64)
    x[2] = torch.nan           # an inactive row may hold anything
    res = BatchedLBFGS().step(x, fun, active=[True, True, False])
    assert res.status == ["ok", "nonfinite", "inactive"]
    assert torch.equal(res.x[1], x[1])
    assert torch.equal(res.x[2].view(torch.int64), x[2].view(torch.int64))
    assert not torch.equal(res.x[0], x[0]) and res.n_evals[1:] == [1, 0]


def test_convergence_quadratic_and_rosenbrock():
    fn, w_star = quadratic(0)
    x0 = torch.zeros(1, 10, dtype=F64)
    # the defaults stop where g'd > -1e-12 (f ~ 5e-13 here), as torch does ...
    xs, _, _, _ = drive([fn], x0, 80)
    torch.testing.assert_close(xs[-1, 0], w_star, rtol=0, atol=1e-6)
    # ... without that tolerance, on to max |g| <= tolerance_grad
    xs, statuses, _, _ = drive([fn], x0, 80, tolerance_change=0.0)
    assert statuses[-1] == ["inactive"] and "converged" in [st[0] for st in statuses]
    torch.testing.assert_close(xs[-1, 0], w_star, rtol=0, atol=1e-9)

    xs, statuses, _, _ = drive([rosenbrock()], torch.tensor([[-1.2, 1.0, -1.2, 1.0]],
                                                            dtype=F64), 150)
    torch.testing.assert_close(xs[-1, 0], torch.ones(4, dtype=F64), rtol=0, atol=1e-6)


def test_float32_batch_converges():
    problems = [quadratic(seed, cond=30, dtype=torch.float32) for seed in range(3)]
    xs, _, _, _ = drive([p[0] for p in problems], torch.zeros(3, 10), 60)
    assert xs.dtype == torch.float32
    for i, (_, w_star) in enumerate(problems):
        # a line search on float32 objective values resolves x to ~sqrt(eps32)
        torch.testing.assert_close(xs[-1, i].double(), w_star, rtol=0, atol=2e-3)


def test_reset_of_one_problem_leaves_the_others():
    fns = [logistic(8), rosenbrock(0.2), logistic(9, alpha=1e-2)]
    x0 = torch.tensor([[-1.2, 1.0] * 6], dtype=F64).repeat(3, 1)
    reset = {6: [False, True, False]}
    xs, _, _, _ = drive(fns, x0, 30, reset_at=reset)
    plain, _, _ = separate(fns, x0, 30)
    torch.testing.assert_close(xs[:, [0, 2]], plain[:, [0, 2]], rtol=0, atol=1e-12)
    reset_alone, _, _, _ = drive(fns[1:2], x0[1:2], 30, reset_at={6: [True]})
    torch.testing.assert_close(xs[:, 1], reset_alone[:, 0], rtol=0, atol=1e-12)
    # the reset did change problem 1's path
    torch.testing.assert_close(xs[:7, 1], plain[:7, 1], rtol=0, atol=1e-12)
    assert (xs[7:, 1] - plain[7:, 1]).abs().max() > 1e-3


def test_cubic_interpolate_degenerate_cases():
    # a linear function: the minimizer is at infinity, clipped to the bound as torch
    assert _cubic_interpolate(0.0, 0.0, -1.0, 1.0, -1.0, -1.0, bounds=(0.0, 5.0)) == 5.0
    # no real minimizer: bisection of the bounds, as torch
    assert _cubic_interpolate(0.0, 0.0, 1.0, 1.0, 2 / 3, 1.0, bounds=(0.0, 2.0)) == 1.0
    # a 0/0 minimizer (torch would step to NaN): bisection
    assert _cubic_interpolate(0.0, 0.0, 1.0, 3.0, 1.0, 1.0, bounds=(0.0, 2.0)) == 1.0
    # coinciding points: no ZeroDivisionError, bisection
    assert _cubic_interpolate(1.0, 0.0, 0.0, 1.0, 0.0, 0.0, bounds=(0.5, 1.5)) == 1.0


def _two_loop(pairs, g, gamma):
    """The textbook two-loop recursion (Nocedal & Wright, Alg. 7.4): -H g."""
    q, alphas = g.clone(), []
    for s, y in reversed(pairs):
        a = s.dot(q) / y.dot(s)
        alphas.append(a)
        q -= a * y
    r = gamma * q
    for (s, y), a in zip(pairs, reversed(alphas)):
        r += (a - y.dot(r) / y.dot(s)) * s
    return -r


def test_direction_equals_the_textbook_two_loop_recursion():
    # problems holding 3 pairs, a full ring, a wrapped ring (newer pairs written
    # over the oldest) and none, side by side
    gen = torch.Generator().manual_seed(0)
    n, p, m = 4, 9, 5
    opt = BatchedLBFGS(history_size=m)
    opt._init_state(torch.zeros(n, p, dtype=F64))
    held = [[] for _ in range(n)]
    for rows in [[0, 1, 2]] * 3 + [[1, 2]] * 2 + [[2]] * 4:
        s = torch.randn(n, p, generator=gen, dtype=F64)
        A = torch.eye(p, dtype=F64) + 0.3 * torch.randn(p, p, generator=gen, dtype=F64)
        y = s @ (A @ A.T)        # y's > 0: every pair is kept
        opt._update_memory(rows, torch.ones(n, dtype=F64), s, torch.zeros(n, p, dtype=F64), y)
        for i in rows:
            held[i] = (held[i] + [(s[i], y[i])])[-m:]
    assert [opt._count[i] for i in range(n)] == [3, 5, 5, 0]
    g = torch.randn(n, p, generator=gen, dtype=F64)
    d = opt._direction(g, list(range(n)))
    for i in range(n):
        expected = _two_loop(held[i], g[i], opt._h_diag[i]) if held[i] else -g[i]
        torch.testing.assert_close(d[i], expected, rtol=1e-11, atol=1e-12)
    # a reset problem starts over from steepest descent
    opt.reset([False, False, True, False])
    torch.testing.assert_close(opt._direction(g, [2])[2], -g[2], rtol=0, atol=0)


def test_history_products_and_direction_stay_right_through_any_sequence():
    # random sequences of updates on row subsets (a quarter of the pairs rejected:
    # y's < 0), resets and ring rotations, for one history length that wraps
    # often: the kept inner products always equal the pairs' own, and the
    # direction equals the textbook recursion on each problem's pairs, oldest first
    import random

    rand = random.Random(0)
    gen = torch.Generator().manual_seed(0)
    # five problems: row subsets fall into several runs of consecutive rows,
    # some longer than one, which the history is read in
    n, p, m = 5, 6, 4
    for _ in range(60):
        opt = BatchedLBFGS(history_size=m)
        opt._init_state(torch.zeros(n, p, dtype=F64))
        held = [[] for _ in range(n)]
        for _ in range(rand.randint(1, 25)):
            op = rand.random()
            if op < 0.6:
                rows = sorted(rand.sample(range(n), rand.randint(1, n)))
                d = torch.randn(n, p, generator=gen, dtype=F64)
                A = torch.randn(p, p, generator=gen, dtype=F64)
                y = d @ (A @ A.T + torch.eye(p, dtype=F64))
                flip = [rand.random() < 0.25 for _ in range(n)]
                y[flip] *= -1
                opt._update_memory(rows, torch.ones(n, dtype=F64), d,
                                   torch.zeros(n, p, dtype=F64), y)
                for i in rows:
                    if not flip[i]:
                        held[i] = (held[i] + [(d[i], y[i])])[-m:]
            elif op < 0.75:
                mask = [rand.random() < 0.4 for _ in range(n)]
                opt.reset(mask)
                held = [[] if r else h for r, h in zip(mask, held)]
            else:
                opt._align(sorted(rand.sample(range(n), rand.randint(1, n))))
            torch.testing.assert_close(opt._sy, opt._s @ opt._y.mT, rtol=0, atol=1e-10)
            torch.testing.assert_close(opt._yy, opt._y @ opt._y.mT, rtol=0, atol=1e-10)
            assert opt._count == [len(h) for h in held]
            g = torch.randn(n, p, generator=gen, dtype=F64)
            rows = sorted(rand.sample(range(n), rand.randint(1, n)))
            d = opt._direction(g, rows)
            for i in rows:
                expected = _two_loop(held[i], g[i], opt._h_diag[i]) if held[i] else -g[i]
                torch.testing.assert_close(d[i], expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_one_nonfinite_gradient_entry_with_finite_objective(bad):
    # f stays finite: only g betrays the problem, at an entry where the direction
    # may well be 0; the start and a trial are both caught, the others go on
    fn = logistic(7)

    def g_poisoned(w):
        f, g = fn(w)
        g = g.clone()
        g[3] = bad
        return f, g

    start = batched([fn, g_poisoned, fn])
    x = torch.full((3, 12), 0.5, dtype=F64)
    res = BatchedLBFGS().step(x, start, active=[True, True, True])
    assert res.status == ["ok", "nonfinite", "ok"] and torch.equal(res.x[1], x[1])

    def later(w):                      # finite at the start, not at the trials
        return g_poisoned(w) if not torch.equal(w, x[0]) else fn(w)

    opt = BatchedLBFGS()
    res = opt.step(x[:1], batched([later]))
    assert res.status == ["nonfinite"] and torch.equal(res.x[0], x[0])
