"""Constraints: the set a parameter or a sample must lie in (torch.distributions.constraints).

Each constraint's ``check(array)`` returns a boolean array (True where the value is allowed);
``str(constraint)`` reads as the condition, so argument errors can name it.
"""

from __future__ import annotations

from ..backend import get_array_module


class Constraint:
    """A set of allowed values; ``check`` works on raw NumPy/CuPy arrays (no graph)."""

    is_discrete = False

    def check(self, array):
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"constraints.{self}"


class _Real(Constraint):
    def check(self, array):
        return array == array  # False only for NaN

    def __str__(self) -> str:
        return "real (not NaN)"


class _GreaterThan(Constraint):
    def __init__(self, lower_bound: float):
        self.lower_bound = lower_bound

    def check(self, array):
        return array > self.lower_bound

    def __str__(self) -> str:
        return f"> {self.lower_bound}"


class _UnitInterval(Constraint):
    def check(self, array):
        return (array >= 0) & (array <= 1)

    def __str__(self) -> str:
        return "in [0, 1]"


class _Boolean(Constraint):
    is_discrete = True

    def check(self, array):
        return (array == 0) | (array == 1)

    def __str__(self) -> str:
        return "in {0, 1}"


class _Simplex(Constraint):
    """Non-negative along the last dim and summing to 1 there (checked per row)."""

    def check(self, array):
        xp = get_array_module(array)
        row_ok = (array >= 0).all(-1) & (xp.abs(array.sum(-1) - 1) < 1e-6)
        return xp.broadcast_to(row_ok[..., None], array.shape)

    def __str__(self) -> str:
        return "simplex (>= 0, sums to 1 along the last dim)"


class _NonNegative(Constraint):
    """>= 0 along the last dim with a positive sum: Categorical's unnormalized ``probs``."""

    def check(self, array):
        xp = get_array_module(array)
        row_ok = (array >= 0).all(-1) & (array.sum(-1) > 0)
        return xp.broadcast_to(row_ok[..., None], array.shape)

    def __str__(self) -> str:
        return ">= 0 with a positive sum along the last dim"


class IntegerInterval(Constraint):
    """Integers in [lower_bound, upper_bound]."""

    is_discrete = True

    def __init__(self, lower_bound: int, upper_bound: int):
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def check(self, array):
        return (array % 1 == 0) & (array >= self.lower_bound) & (array <= self.upper_bound)

    def __str__(self) -> str:
        return f"an integer in [{self.lower_bound}, {self.upper_bound}]"


class Interval(Constraint):
    """[lower_bound, upper_bound], bounds being arrays that broadcast with the value (torch's
    ``constraints.interval``: Uniform's support, though its density is 0 at the upper bound)."""

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def check(self, array):
        return (array >= self.lower_bound) & (array <= self.upper_bound)

    def __str__(self) -> str:
        return "in [low, high]"


class _Dependent(Constraint):
    """A parameter checked against another one (Uniform's low < high), done by the class."""

    def check(self, array):
        return array == array

    def __str__(self) -> str:
        return "dependent"


real = _Real()
positive = _GreaterThan(0.0)
unit_interval = _UnitInterval()
boolean = _Boolean()
simplex = _Simplex()
nonnegative_rows = _NonNegative()
dependent = _Dependent()
