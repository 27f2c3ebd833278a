"""Dense linear algebra in double precision with the standard library: LU with partial pivoting.

Enough for Model.invert on the pure-Python backend: factor a square matrix once, solve for many
right-hand sides, and estimate how much a solve can amplify errors (the 1-norm condition number).
"""

from __future__ import annotations

import math


class SingularMatrixError(ValueError):
    """The matrix has no inverse: elimination met a column without a non-zero pivot."""

    def __init__(self, column: int):
        super().__init__(f"singular: no non-zero pivot in column {column}")
        self.column = column


class LU:
    """P A = L U of a square matrix (a list of rows), by Gaussian elimination with partial pivoting."""

    def __init__(self, matrix):
        n = len(matrix)
        if any(len(row) != n for row in matrix):
            raise ValueError("LU needs a square matrix")
        a = [[float(v) for v in row] for row in matrix]
        order = list(range(n))
        for k in range(n):
            pivot = max(range(k, n), key=lambda i: abs(a[i][k]))
            if a[pivot][k] == 0.0 or not math.isfinite(a[pivot][k]):
                raise SingularMatrixError(k)
            if pivot != k:
                a[k], a[pivot] = a[pivot], a[k]
                order[k], order[pivot] = order[pivot], order[k]
            top = a[k]
            for i in range(k + 1, n):
                row = a[i]
                factor = row[k] / top[k]
                if factor != 0.0:
                    row[k] = factor
                    for j in range(k + 1, n):
                        row[j] -= factor * top[j]
                else:
                    row[k] = 0.0
        self.n = n
        self.lu = a  # below the diagonal: L's multipliers (L's diagonal is 1); on and above: U
        self.order = order  # row i of P A is row order[i] of A
        self.norm_1 = max((math.fsum(abs(row[j]) for row in matrix) for j in range(n)), default=0.0)

    def solve(self, b) -> list:
        """Return x with A x = b."""
        n, a = self.n, self.lu
        y = [float(b[i]) for i in self.order]
        for i in range(n):
            row = a[i]
            y[i] -= math.fsum(row[j] * y[j] for j in range(i))
        for i in range(n - 1, -1, -1):
            row = a[i]
            y[i] = (y[i] - math.fsum(row[j] * y[j] for j in range(i + 1, n))) / row[i]
        return y

    def condition_number(self) -> float:
        """||A||_1 * ||A^-1||_1: a relative error in b can grow this much in x."""
        inverse_norm = 0.0
        for j in range(self.n):
            unit = [0.0] * self.n
            unit[j] = 1.0
            inverse_norm = max(inverse_norm, math.fsum(abs(v) for v in self.solve(unit)))
        return self.norm_1 * inverse_norm
