"""L-BFGS: a quasi-Newton method that builds a curvature model from the last few steps.

References: J. Nocedal and S. Wright, *Numerical Optimization* (2nd ed., 2006): the two-loop
recursion is Algorithm 7.4, the strong-Wolfe line search is Algorithms 3.5 (bracketing) and 3.6
(zoom) with the cubic interpolation of eq. (3.59). The safeguards (how far the bracketing phase
may extrapolate, the "insufficient progress" rule of the zoom) follow M. Schmidt's minFunc, as
torch.optim.LBFGS does, so the iterates agree with torch's.
"""

from __future__ import annotations

import math
import numbers

from ..autograd import enable_grad, no_grad
from ..backend import get_array_module
from .optimizer import Optimizer, check_hyperparameter


def _dot(a, b) -> float:
    return float(get_array_module(a).dot(a, b))


def _max_abs(a) -> float:
    return float(get_array_module(a).abs(a).max())


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """Minimizer of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2, clipped to
    ``bounds`` (default: the interval between x1 and x2). Nocedal & Wright eq. (3.59)::

        d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2)
        d2 = sqrt(d1^2 - g1 g2)
        x  = x2 - (x2 - x1) (g2 + d2 - d1) / (g2 - g1 + 2 d2)        (for x1 <= x2)

    When d1^2 < g1 g2 the cubic has no minimizer and the midpoint of the bounds is used.
    """
    if bounds is not None:
        low, high = bounds
    else:
        low, high = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, low), high)


def _strong_wolfe(evaluate, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """Find a step ``t`` along ``d`` satisfying the strong Wolfe conditions::

        f(x + t d) <= f(x) + c1 t g.d                  (sufficient decrease, "Armijo")
        |g(x + t d).d| <= c2 |g.d|                     (curvature: the slope has flattened)

    ``evaluate(x, t, d)`` returns ``(f, g)`` at ``x + t d``. Phase 1 (bracketing) grows ``t``
    until an interval is known to contain an acceptable step; phase 2 (zoom) shrinks that
    interval by cubic interpolation. At most ``max_ls`` evaluations. Returns
    ``(f_new, g_new, t, evaluations)``.
    """
    d_norm = _max_abs(d)
    f_new, g_new = evaluate(x, t, d)
    evaluations = 1
    gtd_new = _dot(g_new, d)

    # ---- phase 1: bracket an interval containing a point satisfying the Wolfe conditions ----
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket = bracket_f = bracket_g = bracket_gtd = None
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            # too long a step: the minimum lies between t_prev and t
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            # both conditions hold: accept t
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            # the slope turned positive: a minimum lies between t_prev and t
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # still going down steeply: extrapolate, to between 1.01 t and 10 t
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        t_next = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                    bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = evaluate(x, t, d)
        evaluations += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1

    if ls_iter >= max_ls:
        # out of evaluations: settle for the better of the start and the last trial
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]

    # ---- phase 2 (zoom): shrink the bracket until its best point satisfies the conditions ----
    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break  # the bracket is too small to matter
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                               bracket[1], bracket_f[1], bracket_gtd[1])

        # Safeguard: a trial point too close to an end of the bracket shrinks it too slowly.
        # The first time, accept it but remember; if it happens again (or t is outside the
        # bracket) move t to 10% of the bracket's length away from the nearest end.
        b_min, b_max = min(bracket), max(bracket)
        eps = 0.1 * (b_max - b_min)
        if min(b_max - t, t - b_min) < eps:
            if insufficient_progress or t >= b_max or t <= b_min:
                t = b_max - eps if abs(t - b_max) < abs(t - b_min) else b_min + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False

        f_new, g_new = evaluate(x, t, d)
        evaluations += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1

        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            # not enough decrease, or worse than the best point: t replaces the high end
            bracket[high], bracket_f[high] = t, f_new
            bracket_g[high], bracket_gtd[high] = g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True  # strong Wolfe conditions satisfied
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                # the minimum is on the other side of t: the old low end becomes the high end
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            # t is the new best point
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new, gtd_new

    return bracket_f[low], bracket_g[low], bracket[low], evaluations


class LBFGS(Optimizer):
    """L-BFGS (Liu & Nocedal 1989), like ``torch.optim.LBFGS``. Needs a closure.

    Newton's method steps by ``-H g`` with ``H`` the inverse Hessian. BFGS builds ``H`` from how
    the gradient changed along past steps; L-BFGS keeps only the last ``history_size`` pairs

        s_k = x_{k+1} - x_k          (the step)         y_k = g_{k+1} - g_k   (gradient change)

    and applies ``H`` to a vector without forming it (two-loop recursion, N&W Alg. 7.4)::

        q = -g
        for k = newest ... oldest:    a_k = rho_k s_k.q;   q = q - a_k y_k     (rho_k = 1 / y_k.s_k)
        r = gamma q                   with gamma = s.y / y.y of the newest pair (initial H)
        for k = oldest ... newest:    b = rho_k y_k.r;     r = r + (a_k - b) s_k
        d = r                         # the search direction, ~ -H g

    A pair is stored only if ``y.s > 1e-10`` (positive curvature keeps ``H`` positive definite).
    One ``step(closure)`` runs up to ``max_iter`` iterations of::

        d = two_loop(g)               (d = -g on the very first iteration)
        t = lr                        (min(1, 1/|g|_1) * lr on the very first iteration)
        t = strong_wolfe_line_search(t)  if line_search_fn == "strong_wolfe"
        x = x + t d                   then re-evaluate f and g with the closure

    and stops early when ``max|g| <= tolerance_grad``, when ``max|t d|`` or the change of the
    loss is below ``tolerance_change``, when ``g.d > -tolerance_change`` (no descent left) or
    after ``max_eval`` closure evaluations. The history persists across ``step`` calls.

    Args:
        params: iterable of tensors (a single parameter group).
        lr: step length (default 1).
        max_iter: iterations per ``step`` (default 20).
        max_eval: closure evaluations per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when the largest gradient entry is below this (default 1e-7).
        tolerance_change: stop when steps or loss changes are below this (default 1e-9).
        history_size: how many (s, y) pairs to keep (default 100).
        line_search_fn: ``None`` (fixed step ``lr``) or ``"strong_wolfe"``.

    >>> import tinygrad_edu as tg
    >>> x = tg.tensor([3.0, -1.0], dtype=tg.float64, requires_grad=True)
    >>> opt = LBFGS([x], line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = ((x - 1.0) ** 2).sum()
    ...     loss.backward()
    ...     return loss
    >>> _ = opt.step(closure)
    >>> [round(v, 6) for v in x.tolist()]
    [1.0, 1.0]
    """

    def __init__(
        self,
        params,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ):
        check_hyperparameter("LBFGS", "learning rate", lr)
        _check_count("max_iter", max_iter)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        _check_count("max_eval", max_eval)
        check_hyperparameter("LBFGS", "tolerance_grad", tolerance_grad)
        check_hyperparameter("LBFGS", "tolerance_change", tolerance_change)
        _check_count("history_size", history_size)
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                             f"{line_search_fn!r}")
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, param_group: dict) -> None:
        if self.param_groups:
            raise ValueError("LBFGS: doesn't support per-parameter options (parameter groups); "
                             "it optimizes one flat vector made of all its parameters, so "
                             "pass them all in one list")
        super().add_param_group(param_group)

    # ------------------------------------------------------------------------------------------
    # All parameters seen as one flat vector x (and their gradients as one vector g)
    # ------------------------------------------------------------------------------------------

    def _gather_flat_grad(self):
        xp = get_array_module(self._params[0].data)
        pieces = []
        for p in self._params:
            if p.grad is None:
                pieces.append(xp.zeros(p.data.size, dtype=p.dtype))
            else:
                pieces.append(p.grad.data.reshape(-1))
        return xp.concatenate(pieces)

    def _add_to_params(self, t: float, d) -> None:
        """x = x + t d, in place, slice by slice."""
        offset = 0
        for p in self._params:
            n = p.data.size
            data = p.data
            data += t * d[offset:offset + n].reshape(p.shape)
            offset += n

    def _clone_params(self) -> list:
        return [p.data.copy() for p in self._params]

    def _set_params(self, values) -> None:
        for p, value in zip(self._params, values, strict=True):
            p.data[...] = value

    def _directional_evaluate(self, closure, x, t, d):
        """(f, g) at x + t d; the parameters are put back to x afterwards."""
        self._add_to_params(t, d)
        loss = float(_evaluate(closure))
        flat_grad = self._gather_flat_grad()
        self._set_params(x)
        return loss, flat_grad

    # ------------------------------------------------------------------------------------------
    # The step
    # ------------------------------------------------------------------------------------------

    def step(self, closure=None):
        """Run up to ``max_iter`` L-BFGS iterations; returns the loss before the first one.

        ``closure`` must zero the gradients, compute the loss, call ``backward`` and return
        the loss: L-BFGS evaluates the function several times per step.
        """
        if closure is None:
            raise RuntimeError(
                "LBFGS: step() requires a closure that re-evaluates the model and returns the "
                "loss, because L-BFGS evaluates the function several times per step:\n"
                "    def closure():\n"
                "        optimizer.zero_grad()\n"
                "        loss = loss_fn(model(x), y)\n"
                "        loss.backward()\n"
                "        return loss\n"
                "    optimizer.step(closure)"
            )
        with no_grad():
            loss = self._step(closure)
        self._steps_taken += 1
        return loss

    def _step(self, closure):
        group = self.param_groups[0]
        lr = group["lr"]
        max_iter = group["max_iter"]
        max_eval = group["max_eval"]
        tolerance_grad = group["tolerance_grad"]
        tolerance_change = group["tolerance_change"]
        history_size = group["history_size"]
        line_search_fn = group["line_search_fn"]

        # L-BFGS has one global state; like torch it is filed under the first parameter
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = _evaluate(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if _max_abs(flat_grad) <= tolerance_grad:
            return orig_loss  # already at a stationary point

        d = state.get("d")
        t = state.get("t")
        old_dirs = state.get("old_dirs")      # history of y (gradient changes)
        old_stps = state.get("old_stps")      # history of s (steps)
        ro = state.get("ro")                  # history of 1 / y.s
        H_diag = state.get("H_diag")          # gamma: scale of the initial inverse Hessian
        prev_flat_grad = state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # ---- search direction ----
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = _dot(y, s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / _dot(y, y)
                d = _two_loop(flat_grad, old_dirs, old_stps, ro, H_diag)

            prev_flat_grad = flat_grad  # never modified in place, so no copy is needed
            prev_loss = loss

            # ---- step length ----
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(get_array_module(flat_grad).abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = _dot(flat_grad, d)  # directional derivative g.d
            if gtd > -tolerance_change:
                break  # d is no (meaningful) descent direction

            ls_func_evals = 0
            opt_cond = False
            if line_search_fn == "strong_wolfe":
                x_init = self._clone_params()

                def evaluate(x, t, d):
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    evaluate, x_init, t, d, loss, flat_grad, gtd,
                    max_ls=max_eval - current_evals,
                )
                self._add_to_params(t, d)
                opt_cond = _max_abs(flat_grad) <= tolerance_grad
            else:
                self._add_to_params(t, d)  # fixed step
                if n_iter != max_iter:
                    # re-evaluate (skipped after the last iteration: the caller's next step
                    # evaluates there anyway)
                    loss = float(_evaluate(closure))
                    flat_grad = self._gather_flat_grad()
                    opt_cond = _max_abs(flat_grad) <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # ---- stopping tests ----
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if _max_abs(d) * abs(t) <= tolerance_change:
                break  # the step no longer moves the parameters
            if abs(loss - prev_loss) < tolerance_change:
                break  # the loss no longer changes

        state["d"] = d
        state["t"] = t
        state["old_dirs"] = old_dirs
        state["old_stps"] = old_stps
        state["ro"] = ro
        state["H_diag"] = H_diag
        state["prev_flat_grad"] = prev_flat_grad
        state["prev_loss"] = prev_loss
        return orig_loss


def _two_loop(flat_grad, old_dirs, old_stps, ro, H_diag):
    """d = -H g from the stored pairs (y_k = old_dirs[k], s_k = old_stps[k], rho_k = ro[k])."""
    num_old = len(old_dirs)
    alphas = [0.0] * num_old
    q = -flat_grad
    for i in range(num_old - 1, -1, -1):
        alphas[i] = _dot(old_stps[i], q) * ro[i]
        q -= alphas[i] * old_dirs[i]
    r = q * H_diag
    for i in range(num_old):
        beta = _dot(old_dirs[i], r) * ro[i]
        r += (alphas[i] - beta) * old_stps[i]
    return r


def _evaluate(closure):
    """Call the closure with gradients enabled (the step itself runs under no_grad)."""
    with enable_grad():
        return closure()


def _check_count(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"LBFGS: invalid {name} {value!r} (must be an integer >= 1)")
