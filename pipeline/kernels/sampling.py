"""Monte Carlo sampling kernels: mean-preserving lognormal factors, keyed streams.

Pure numpy, no I/O. A factor with coefficient of variation ``cv`` is
``exp(mu + sigma z)`` with ``z`` standard normal, ``sigma^2 = ln(1 + cv^2)`` and
``mu = -sigma^2 / 2``: its mean is exactly 1 and its standard deviation ``cv``.
Multiplying a value by it keeps the value's sign and its zeros; ``cv = 0`` gives
factors of exactly 1.

Every realization draws from its own stream, keyed by ``(seed, realization,
stream)`` (:func:`realization_rng`), so a realization's numbers depend on the
seed and its index only: not on which worker draws it, nor in what order.
"""

from __future__ import annotations

import numpy as np

#: Stream of a realization's MRIO factors (Z, Y, F, in that order; redraws continue it).
MRIO_STREAM = 0
#: Stream of a realization's inventory factors (one per region x inventory sector).
INVENTORY_STREAM = 1


def realization_rng(seed: int, index: int, stream: int) -> np.random.Generator:
    """The generator of one realization's stream.

    ``SeedSequence(seed, spawn_key=(index, stream))``: the ``stream``-th child of
    the ``index``-th child of ``SeedSequence(seed).spawn``, independent of every
    other realization's.
    """
    sequence = np.random.SeedSequence(int(seed), spawn_key=(int(index), int(stream)))
    return np.random.Generator(np.random.PCG64(sequence))


def lognormal_factors(
    rng: np.random.Generator, shape: tuple[int, ...], cv: float | np.ndarray
) -> np.ndarray:
    """Mean-1 lognormal factors with coefficient of variation ``cv`` (broadcast to ``shape``).

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : tuple of int
    cv : float or numpy.ndarray
        Coefficients of variation (>= 0), broadcastable to ``shape``.

    Returns
    -------
    numpy.ndarray
        float64 factors; exactly 1 where ``cv == 0``.
    """
    sigma2 = np.log1p(np.square(np.asarray(cv, dtype=np.float64)))
    z = rng.standard_normal(shape)
    return np.exp(np.sqrt(sigma2) * z - sigma2 / 2)


def rebalanced_output(x: np.ndarray, uses: np.ndarray, perturbed_uses: np.ndarray) -> np.ndarray:
    """Total output after perturbing the uses: ``x + (Z'1 + Y'1) - (Z1 + Y1)``.

    The row balance of the perturbed table then holds as well as the input's
    (exactly ``x`` when nothing changed).
    """
    return np.asarray(x, dtype=np.float64) + (perturbed_uses - uses)
