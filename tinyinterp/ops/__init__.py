"""Op registry: TFLite builtin name -> prepared-op class.

Importing this package imports every module in it, and each module registers its ops with
`@register` (see `base.py`), so adding an op family is adding one file.
"""

import importlib
import pkgutil

from tinyinterp.ops.base import OPS, Op, OpContext

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["OPS", "Op", "OpContext"]
