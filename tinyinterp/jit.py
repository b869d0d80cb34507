"""`jit`: numba's njit for tinyinterp's kernels, with the compiled code cached in the user cache folder.

numba's `cache=True` writes next to the source (`<package>/__pycache__/*.nbi, *.nbc`). In an installed
package those files outlive `pip uninstall`, and the folder they leave becomes a namespace package that
shadows a later editable install. `jit` therefore gives each kernel a cache whose only locator is
`numba_cache_dir()`: numba's global configuration, and the user's other jitted code, are untouched.

numba keys a cached kernel on its own source file only, but a kernel compiles in the jitted functions
and constants it uses from other files (FULLY_CONNECTED chains run int_gemm's tiles and gemm's
requantization): a cached kernel would outlive a change to them. The stamp is therefore the content
of every file kernels compile code from (`KERNEL_SOURCES`): any change there recompiles them all.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
from numba.core.caching import (
    CompileResultCacheImpl,
    FunctionCache,
    _CacheLocator,
    _SourceFileBackedLocatorMixin,
)
from numba.core.dispatcher import Dispatcher

from tinyinterp.cache import numba_cache_dir

PACKAGE = Path(__file__).resolve().parent
# The files whose jitted functions and constants kernels compile in (fixedpoint.py imports the last two).
KERNEL_SOURCES = (*sorted((PACKAGE / "kernels").glob("*.py")), PACKAGE / "quant.py", PACKAGE / "numerics.py")


@functools.cache  # once per process: the files of an installed package do not change under it
def kernel_sources_stamp() -> str:
    """A digest of the content of every kernel source (`KERNEL_SOURCES`)."""
    digest = hashlib.sha256()
    for path in KERNEL_SOURCES:
        digest.update(path.read_bytes())
    return digest.hexdigest()


class _UserCacheLocator(_SourceFileBackedLocatorMixin, _CacheLocator):
    """numba's UserWideCacheLocator with tinyinterp's folder: one subfolder per source folder."""

    def __init__(self, py_func: Callable[..., Any], py_file: str) -> None:
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = str(numba_cache_dir() / self.get_suitable_cache_subpath(py_file))

    def get_cache_path(self) -> str:
        return self._cache_path

    def get_source_stamp(self) -> str:
        """Every kernel source's content, not only this kernel's file (see the module's docstring)."""
        return kernel_sources_stamp()


class _KernelCacheImpl(CompileResultCacheImpl):
    # Only the user folder: when it cannot be written, numba finds no locator and the kernel compiles
    # without a disk cache, instead of falling back to numba's in-tree __pycache__.
    _locator_classes = [_UserCacheLocator]  # noqa: RUF012 (numba's own attribute, a list)


class _KernelCache(FunctionCache):
    _impl_class = _KernelCacheImpl


@functools.cache  # once per process, not once per kernel
def _warn_unwritable_once() -> None:
    warnings.warn(
        f"tinyinterp: cannot write numba's cache folder {numba_cache_dir()}; kernels are compiled "
        "in every process (set TINYINTERP_CACHE to a writable folder)",
        RuntimeWarning,
        stacklevel=4,
    )


def jit(function: Callable[..., Any]) -> Callable[..., Any]:
    """`numba.njit(nogil=True)` whose compiled code is cached in `numba_cache_dir()`."""
    dispatcher = numba.njit(nogil=True)(function)
    if not isinstance(dispatcher, Dispatcher):  # NUMBA_DISABLE_JIT: the plain Python function
        return dispatcher
    try:
        # What Dispatcher.enable_caching() does, with our cache class instead of numba's FunctionCache.
        dispatcher._cache = _KernelCache(function)  # type: ignore[attr-defined]  # numba's private slot
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        _warn_unwritable_once()
    return dispatcher


@jit
def _identity(x: int) -> int:
    return x


@functools.cache  # once per process
def start_numba() -> None:
    """numba's first dispatch in a process loads its typing and lowering registries and starts its
    LLVM JIT: tens of thousands of objects, many in reference cycles, that live as long as the
    process. They are moved out of the cyclic collector's reach (gc.freeze) once loaded, so no later
    full collection walks them, and the interpreter's exit does not tear them down one by one (0.2 s
    of a short script's run). Objects only a cycle keeps alive at that moment stay until exit."""
    _identity(0)
    gc.freeze()
