"""The Cortex-M cost model: latency, energy, arena and flash of a model on a board, from shapes alone.

    from tinyinterp.cost import estimate
    e = estimate("kws_ref_model.tflite", board="nucleo-l4r5zi")   # or core="cortex-m33", clock_mhz=96
    e.totals.latency_ms, e.totals.energy_uj, e.totals.arena_bytes, e.totals.fits, e.layers[0].kernel

Importing this package does not import numba or any interpreter kernel.
"""

from tinyinterp.cost.estimate import Calibration, Estimate, estimate
from tinyinterp.cost.fit import Measurement, fit

__all__ = ["Calibration", "Estimate", "Measurement", "estimate", "fit"]
