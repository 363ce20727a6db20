"""How many threads numpy's BLAS and FAISS's OpenMP may use in this process.

Both libraries size their pools to the machine's cores and spin them up for every matrix-vector
product. Serving one query at a time per process, that buys nothing: the products are small and
requests already run side by side in workers and threads. Under load the pools fight each other
and the neighbours for the cores (on 2 shared cores at load ~8, a qmsum-tune-choose search took
21 ms at p50 with the default pools and 10.8 ms with one thread each).
"""

from __future__ import annotations

import faiss
import numpy  # noqa: F401  (its BLAS must be loaded for threadpoolctl to find and limit it)
from threadpoolctl import threadpool_limits


def limit_compute_threads(count: int) -> None:
    """Cap the BLAS and OpenMP pools of the libraries loaded so far at ``count`` threads, for the whole process."""
    threadpool_limits(limits=count)
    faiss.omp_set_num_threads(count)
