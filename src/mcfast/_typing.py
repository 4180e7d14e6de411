"""Type aliases of mcfast's public annotations (array-likes in, float32/float64 arrays out)."""

from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = ["ArrayLike", "DTypeLike", "FloatArray", "Link"]

# What every rule returns: float32 when every input is float32, else float64.
FloatArray = NDArray[Union[np.float32, np.float64]]

# A link of a chain: an array-like, an mcfast.Diagonal, or (for planning) a shape tuple.
# Parameters taking links are typed ``Sequence[object]`` (checked at run time): mypy
# infers ``list[object]`` for a list display mixing arrays and Diagonals, and a tighter
# element type would reject it.
Link = Any
