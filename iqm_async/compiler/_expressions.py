"""Evaluate sympy expressions on numpy columns, one value per sweep point (private module).

A sweep's angle expressions are small (a symbol plus a constant, or the atan2 of a few sines
that pytket writes when it merges rotations) but there are hundreds of them. Walking each
tree once with numpy, sharing equal subexpressions, costs milliseconds for a 20-qubit
circuit; ``sympy.lambdify`` costs most of a second to print and compile the same code. A
function we do not know is handed to ``lambdify``, for that subexpression only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import sympy

__all__ = ["evaluate_columns"]

Column = npt.NDArray[np.float64] | float

_NUMPY: dict[Any, Callable[..., Any]] = {
    sympy.sin: np.sin,
    sympy.cos: np.cos,
    sympy.tan: np.tan,
    sympy.asin: lambda x: np.arcsin(_into_unit_range(x)),
    sympy.acos: lambda x: np.arccos(_into_unit_range(x)),
    sympy.atan: np.arctan,
    sympy.atan2: np.arctan2,
    sympy.sinh: np.sinh,
    sympy.cosh: np.cosh,
    sympy.tanh: np.tanh,
    sympy.exp: np.exp,
    sympy.log: np.log,
    sympy.Abs: np.abs,
    sympy.sign: np.sign,
    sympy.floor: np.floor,
    sympy.ceiling: np.ceil,
}


# pytket writes acos/asin of expressions that are exactly +-1 (and roots of expressions that
# are exactly 0) at some points; float rounding can land just outside the domain there, which
# would give NaN for a valid angle. Values this close to the domain are moved onto it.
_ROUNDING = 1e-9


def _into_unit_range(x: Any) -> Any:
    return np.where(np.abs(x) <= 1 + _ROUNDING, np.clip(x, -1.0, 1.0), x)


def evaluate_columns(
    expressions: Sequence[sympy.Expr], columns: Mapping[str, npt.NDArray[np.float64]], points: int
) -> npt.NDArray[np.float64]:
    """Every expression at every point: a ``points x expressions`` float array.

    Args:
        expressions: sympy expressions of the symbols named in ``columns``.
        columns: symbol name -> its value at each point (arrays of length ``points``).
        points: the number of points.

    A value that is not a real number (e.g. the log of a negative number) comes out as
    NaN; the caller decides what that means.
    """
    out = np.empty((points, len(expressions)), dtype=np.float64)
    memo: dict[sympy.Expr, Column] = {}
    with np.errstate(all="ignore"):
        for index, expression in enumerate(expressions):
            value = _evaluate(expression, columns, memo)
            out[:, index] = np.broadcast_to(_real(value), points)
    return out


def _real(value: Any) -> Any:
    array = np.asarray(value)
    if np.iscomplexobj(array):
        return np.where(array.imag == 0, array.real, np.nan)
    return array.astype(np.float64, copy=False)


def _evaluate(
    expr: sympy.Expr, columns: Mapping[str, npt.NDArray[np.float64]], memo: dict[sympy.Expr, Column]
) -> Column:
    known = memo.get(expr)
    if known is not None:
        return known
    value: Column
    if expr.is_Symbol:
        value = columns[expr.name]
    elif not expr.free_symbols:
        number = complex(expr)  # a number, or a constant such as pi, sqrt(2) or I
        value = number.real if number.imag == 0 else number  # type: ignore[assignment]
    else:
        args = [_evaluate(arg, columns, memo) for arg in expr.args]
        if expr.is_Add:
            value = sum(args[1:], args[0])
        elif expr.is_Mul:
            value = args[0]
            for factor in args[1:]:
                value = value * factor
        elif expr.is_Pow:
            base, exponent = args
            if np.ndim(exponent) or not float(exponent).is_integer():  # a root: -1e-17 is 0
                base = np.where((base < 0) & (base >= -_ROUNDING), 0.0, base)
            value = np.power(base, exponent)
        elif expr.func in _NUMPY:
            value = _NUMPY[expr.func](*args)
        else:
            value = _lambdified(expr, columns)
    memo[expr] = value
    return value


def _lambdified(expr: sympy.Expr, columns: Mapping[str, npt.NDArray[np.float64]]) -> Column:
    names = sorted(s.name for s in expr.free_symbols)
    function = sympy.lambdify([sympy.Symbol(n) for n in names], expr, modules="numpy")
    value: Column = function(*(columns[n] for n in names))
    return value
