"""Op registry: TFLite builtin name -> prepared-op class. Importing this package registers all ops."""

from tinyinterp.ops import add, conv, fully_connected, pooling, reshape, softmax  # noqa: F401  (registration)
from tinyinterp.ops.base import OPS, Op, OpContext

__all__ = ["OPS", "Op", "OpContext"]
