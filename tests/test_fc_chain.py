"""Chains of int8 FULLY_CONNECTED layers fused into one kernel call (ops/chain.py, kernels/chain.py):
every layer's output equals the layers run one by one, and TFLM's, at batch 1 (invoke, bound buffers)
and batched (run)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_int_gemm import portable_path

from tinyinterp import Interpreter
from tinyinterp.interpreter import batch_shape
from tinyinterp.kernels.int_gemm import vnni_available
from tinyinterp.model import Model, ModelBuilder
from tinyinterp.ops import OPS, OpContext
from tinyinterp.ops.chain import FullyConnectedChain, chain_groups
from tinyinterp.testing import OpCase, assert_bit_exact, run_tflm, tflm_outputs
from tinyinterp.testing.strategies.common import (
    activations,
    biases,
    scales,
    tensor_values,
    weights,
    zero_points,
)
from tinyinterp.testing.vectors import random_inputs

needs_vnni = pytest.mark.skipif(not vnni_available(), reason="this CPU has no AVX-512 VNNI")
# Units around the kernel's block sizes: a partial block of 16, whole blocks, a wide tile of 128 and more.
UNITS = (1, 8, 16, 20, 128, 131, 160)


@st.composite
def chains(draw: st.DrawFn) -> OpCase:
    """2 to 4 int8 FULLY_CONNECTED layers, each reading the previous one's output, every output a model
    output; the rows per item (leading dimensions) and keep_num_dims drawn."""
    builder = ModelBuilder("fully connected chain")
    leading = draw(st.sampled_from([(1,), (1, 3)]))
    depth = draw(st.sampled_from([1, 5, 64, 130]))
    scale, zero_point = draw(scales(1e-3, 1.0)), draw(zero_points("int8"))
    x = source = builder.input("input", (*leading, depth), "int8", scale=scale, zero_point=zero_point)
    for k in range(draw(st.integers(2, 4))):
        units = draw(st.sampled_from(UNITS))
        # Scales drawn per tensor (a product of effective multipliers would shrink down the chain).
        scale_count = draw(st.sampled_from([1, units]))
        weight_scales = np.array([draw(scales(1e-3, 0.1)) for _ in range(scale_count)], np.float32)
        values, output_scale = draw(weights((units, depth))), draw(scales(1e-3, 1.0))
        bias_scales = (np.float32(scale) * weight_scales).astype(np.float32)
        inputs = [
            source,
            builder.constant(f"weights{k}", values, scale=weight_scales, zero_point=0),
            builder.constant(f"bias{k}", draw(biases(units, "int8")), scale=bias_scales, zero_point=0),
        ]
        keep_num_dims = len(leading) == 1 or draw(st.booleans())
        shape = (*leading, units) if keep_num_dims else (int(np.prod(leading)), units)
        scale, zero_point = output_scale, draw(zero_points("int8"))
        source = builder.tensor(f"output{k}", shape, "int8", scale=scale, zero_point=zero_point)
        options = {"fused_activation_function": draw(activations()), "keep_num_dims": keep_num_dims}
        builder.op("FULLY_CONNECTED", inputs, [source], **options)
        builder.output(source)
        depth, leading = units, shape[:-1]
    model = builder.build()
    return OpCase(
        "FULLY_CONNECTED", "int8", model, (draw(tensor_values(model.main.tensors[x].shape, "int8")),)
    )


def layer_by_layer(model: Model, x: np.ndarray) -> list[np.ndarray]:
    """Each layer's own eval (FullyConnected.__call__), in order."""
    outputs, subgraph = [], model.main
    for node in subgraph.operators:
        x = OPS[node.opcode](OpContext(subgraph, node))([x])[0]
        outputs.append(x)
    return outputs


def items(case: OpCase, count: int) -> np.ndarray:
    shape = batch_shape(case.inputs[0].shape, count)
    return np.random.default_rng(count).integers(-128, 128, shape, np.int8)


@needs_vnni
@settings(max_examples=40)
@given(case=chains())
def test_chain_equals_its_layers_one_by_one(case: OpCase) -> None:
    subgraph = case.model.main
    plan = [(node, OPS[node.opcode](OpContext(subgraph, node))) for node in subgraph.operators]
    groups = chain_groups(plan)
    assert [len(group) for group in groups] == [len(plan)]  # one chain of every layer
    chain = FullyConnectedChain(subgraph, groups[0])
    batch = items(case, 20)  # 20 or 60 rows: register tiles of 8 rows, then single rows
    for actual, expected in zip(chain([batch]), layer_by_layer(case.model, batch), strict=True):
        np.testing.assert_array_equal(actual, expected)
    bound = chain.bind()
    for x in (case.inputs[0], batch[:1]):  # the bound buffers are reused
        for actual, expected in zip(bound([x]), layer_by_layer(case.model, x), strict=True):
            np.testing.assert_array_equal(actual, expected)


@settings(max_examples=15)
@given(case=chains(), portable=st.booleans())
def test_chain_outputs_equal_tflm(case: OpCase, portable: bool, tflm: ModuleType) -> None:
    """Every layer's output (each a model output) after invoke() and in run() equals TFLM's; on the
    portable path (no VNNI, no chain) too."""
    expected = run_tflm(case)
    if portable:
        with portable_path():
            interpreter = Interpreter(model=case.model)
    else:
        interpreter = Interpreter(model=case.model)
    assert_bit_exact(case.expected(), expected, case)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], case.inputs[0])
    interpreter.invoke()
    assert_bit_exact(
        [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()], expected, case
    )
    batched = interpreter.run(np.concatenate([items(case, 3), case.inputs[0]]))
    # The last item (its shape: batch_shape's, with 1 item).
    assert_bit_exact([output[-1:].reshape(e.shape) for output, e in zip(batched, expected)], expected, case)


@needs_vnni
def test_a_chain_ends_where_a_layer_does_not_read_the_previous_output() -> None:
    """Two layers on the same input are not a chain; nor is a layer after another op, but the layer
    reading its output starts one."""
    builder = ModelBuilder("chains")
    x = builder.input("input", (1, 16), "int8", scale=0.1, zero_point=0)
    weights = builder.constant("weights", np.ones((16, 16), np.int8), scale=0.01, zero_point=0)
    first, second, relu, third, fourth = (
        builder.tensor(name, (1, 16), "int8", scale=0.1, zero_point=0) for name in "abcde"
    )
    builder.op("FULLY_CONNECTED", [x, weights], [first])
    builder.op("FULLY_CONNECTED", [x, weights], [second])
    builder.op("RELU", [second], [relu])
    builder.op("FULLY_CONNECTED", [relu, weights], [third])
    builder.op("FULLY_CONNECTED", [third, weights], [fourth])
    builder.output(first, fourth)
    subgraph = builder.build().main
    plan = [(node, OPS[node.opcode](OpContext(subgraph, node))) for node in subgraph.operators]
    assert [[node.index for node, _ in group] for group in chain_groups(plan)] == [[0], [1], [2], [3, 4]]


@pytest.mark.usefixtures("tflm")
def test_ad01_invoke_equals_tflm(data_dir: Path) -> None:
    """ad01's ten layers run as one chain: invoke() after invoke() (its bound buffers reused) gives
    TFLM's outputs."""
    model_bytes = (data_dir / "models" / "ad01_int8.tflite").read_bytes()
    interpreter = Interpreter(model_content=model_bytes)
    interpreter.allocate_tensors()
    detail, output = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    inputs = random_inputs(tuple(detail["shape"][1:]), 50, detail["dtype"], seed=11)
    invoked = []
    for x in inputs:
        interpreter.set_tensor(detail["index"], x[np.newaxis])
        interpreter.invoke()
        invoked.append(interpreter.get_tensor(output["index"])[0])
    np.testing.assert_array_equal(np.stack(invoked), tflm_outputs(model_bytes, inputs))
