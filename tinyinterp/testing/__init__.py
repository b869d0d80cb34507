"""Public helpers for testing kernels against tinyinterp's bit-exact reference.

- `strategies.CASES[(opcode, dtype)]()`: hypothesis strategies of valid single-op cases;
- `OpCase`: the case's `.tflite` model, inputs, `expected()` outputs and `prepared` parameters;
- `assert_bit_exact(actual, expected, case)`: integer equality with a readable report, saving
  the failing case as `.tflite` + `.npz` (`load_case` reads it back);
- `run_tflm(case)`, `tflm_outputs(model, inputs)`: the same through TFLM's interpreter (needs
  `tflite-micro`, the oracle).

Fuzzing with hostile models (imported on their own): `mutants` (mutators of models and bytes),
`sandbox` (worker processes with CPU, wall-clock and memory limits), `fuzzing` (campaigns).
"""

from tinyinterp.testing.assertions import (
    BitExactError,
    assert_bit_exact,
    load_case,
    mismatch_report,
    save_case,
)
from tinyinterp.testing.cases import OpCase, run_tflm, tflm_outputs

__all__ = [
    "BitExactError",
    "OpCase",
    "assert_bit_exact",
    "load_case",
    "mismatch_report",
    "run_tflm",
    "save_case",
    "tflm_outputs",
]
