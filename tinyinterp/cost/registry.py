"""What the cost model knows of each op type, in one entry per opcode (as `tinyinterp.ops.OPS` registers
how to run it): its cycles (cycles.py), the scratch buffers its CMSIS-NN kernel asks for (scratch.py), its
persistent OpData and code bytes, and whether constant channels pass through it (folding.py).

Where CONV_2D is costed: `COSTS["CONV_2D"]`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tinyinterp.cost import cycles, scratch
from tinyinterp.cost.cycles import Context, LayerWork, kernel_path
from tinyinterp.cost.profiles import BoardProfile, CoreProfile
from tinyinterp.model.ir import Operator, Subgraph

CmsisScratch = Callable[[CoreProfile, Subgraph, Operator], list[int]]


@dataclass(frozen=True)
class OpCost:
    cycles: Callable[[Context], LayerWork] = cycles.generic  # the generic fallback: named in estimate notes
    cmsis_scratch: CmsisScratch | None = None  # CMSIS-NN's get_buffer_size; None: TFLM's reference rule
    op_data_bytes: int = 32  # the kernel's persistent OpData (TFLM's RecordingMicroAllocator)
    per_channel_data: bool = False  # plus an int32 multiplier and shift per output channel
    code_bytes: int = 2_000  # TFLM glue and kernel functions in flash (GCC -Os, Cortex-M4)
    keeps_channels: bool = False  # a per-channel constant input stays constant in the output

    @property
    def has_formula(self) -> bool:
        return self.cycles is not cycles.generic


COSTS: dict[str, OpCost] = {
    "CONV_2D": OpCost(cycles.conv_2d, scratch.cmsis_conv, 64, True, 6_000),
    "DEPTHWISE_CONV_2D": OpCost(cycles.depthwise_conv_2d, scratch.cmsis_depthwise, 64, True, 5_000),
    "FULLY_CONNECTED": OpCost(cycles.fully_connected, scratch.cmsis_fully_connected, 80, code_bytes=3_000),
    "AVERAGE_POOL_2D": OpCost(cycles.average_pool_2d, scratch.cmsis_avgpool, 48, keeps_channels=True),
    "MAX_POOL_2D": OpCost(cycles.max_pool_2d, op_data_bytes=48, keeps_channels=True),
    "ADD": OpCost(cycles.add, op_data_bytes=60, code_bytes=2_500),
    "SUB": OpCost(cycles.sub),
    "MUL": OpCost(cycles.mul, op_data_bytes=60),
    "SOFTMAX": OpCost(cycles.softmax, op_data_bytes=240, code_bytes=3_000),
    "RESHAPE": OpCost(cycles.no_compute, code_bytes=600, keeps_channels=True),
    "SQUEEZE": OpCost(cycles.no_compute, keeps_channels=True),
    "EXPAND_DIMS": OpCost(cycles.no_compute),
    "RELU": OpCost(keeps_channels=True),
    "RELU6": OpCost(keeps_channels=True),
}
GENERIC = OpCost()


def op_cost(opcode: str) -> OpCost:
    return COSTS.get(opcode, GENERIC)


def layer_work(
    subgraph: Subgraph, op: Operator, core: CoreProfile, board: BoardProfile, mhz: float, kernels: str
) -> LayerWork:
    """The kernel and cycle terms of one operator (its formula, else the documented generic fallback)."""
    return op_cost(op.opcode).cycles(Context(subgraph, op, core, board, mhz, kernel_path(core, kernels)))
