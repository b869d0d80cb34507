"""Hand-written tables of the TFLite schema (schema.fbs) facts the reader and writer need.

Names follow schema.fbs. Every options table is listed with the operators that use it and its
fields as (name, vtable slot, kind, default); slot N lives at vtable offset 4 + 2 * N. A kind is
a scalar type ("bool", "int32", "uint32", "int64", "float32"), a vector type ("int32[]",
"uint8[]", "float32[]"), "string", or the name of a byte-sized enum in `ENUMS`.
In `Operator.options` enums are their names, bools bool, ints int, floats the Python float
of the float32, vectors tuples and strings str. Defaults are given in that representation.
Ops and the cost model read options through the typed records of `model/options.py`, which
tools/gen_options.py generates from `_TABLES`: run it after changing a table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from enum import Enum
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from tinyinterp.errors import ModelError

# BuiltinOperator, indexed by code. OperatorCode stores the code twice: deprecated_builtin_code
# (int8, capped at PLACEHOLDER_FOR_GREATER_OP_CODES = 127) and builtin_code (int32); the
# effective code is the larger of the two.
BUILTIN_OPERATORS: tuple[str, ...] = (
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE",
    "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC", "LSH_PROJECTION",
    "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1", "RELU6", "RESHAPE", "RESIZE_BILINEAR",
    "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH", "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL",
    "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD", "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER",
    "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP", "TOPK_V2",
    "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM",
    "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT",
    "SLICE", "SIN", "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL",
    "LOG", "SUM", "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD",
    "REDUCE_MAX", "PACK", "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK",
    "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD", "RANGE",
    "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS", "SPLIT_V",
    "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK", "ELU",
    "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND", "HARD_SWISH", "IF",
    "WHILE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2",
    "DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM",
    "CALL_ONCE", "BROADCAST_TO", "RFFT2D", "CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE",
    "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE",
    "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_SUM", "ATAN2",
    "UNSORTED_SEGMENT_MIN", "SIGN", "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT", "STABLEHLO_LOGISTIC",
    "STABLEHLO_ADD", "STABLEHLO_DIVIDE", "STABLEHLO_MULTIPLY", "STABLEHLO_MAXIMUM",
    "STABLEHLO_RESHAPE", "STABLEHLO_CLAMP", "STABLEHLO_CONCATENATE", "STABLEHLO_BROADCAST_IN_DIM",
    "STABLEHLO_CONVOLUTION", "STABLEHLO_SLICE", "STABLEHLO_CUSTOM_CALL", "STABLEHLO_REDUCE",
    "STABLEHLO_ABS", "STABLEHLO_AND", "STABLEHLO_COSINE", "STABLEHLO_EXPONENTIAL", "STABLEHLO_FLOOR",
    "STABLEHLO_LOG", "STABLEHLO_MINIMUM", "STABLEHLO_NEGATE", "STABLEHLO_OR", "STABLEHLO_POWER",
    "STABLEHLO_REMAINDER", "STABLEHLO_RSQRT", "STABLEHLO_SELECT", "STABLEHLO_SUBTRACT",
    "STABLEHLO_TANH", "STABLEHLO_SCATTER", "STABLEHLO_COMPARE", "STABLEHLO_CONVERT",
    "STABLEHLO_DYNAMIC_SLICE", "STABLEHLO_DYNAMIC_UPDATE_SLICE", "STABLEHLO_PAD", "STABLEHLO_IOTA",
    "STABLEHLO_DOT_GENERAL", "STABLEHLO_REDUCE_WINDOW", "STABLEHLO_SORT", "STABLEHLO_WHILE",
    "STABLEHLO_GATHER", "STABLEHLO_TRANSPOSE", "DILATE", "STABLEHLO_RNG_BIT_GENERATOR",
    "REDUCE_WINDOW", "STABLEHLO_COMPOSITE", "STABLEHLO_SHIFT_LEFT", "STABLEHLO_CBRT",
    "STABLEHLO_CASE",
)  # fmt: skip
BUILTIN_CODES: Mapping[str, int] = MappingProxyType(
    {name: code for code, name in enumerate(BUILTIN_OPERATORS)}
)
PLACEHOLDER_FOR_GREATER_OP_CODES = 127
CUSTOM = "CUSTOM"
SCHEMA_VERSION = 3
FILE_IDENTIFIER = b"TFL3"

# The byte-sized enums used by options fields, each indexed by value.
ENUMS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "Padding": ("SAME", "VALID"),
    "ActivationFunctionType": ("NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"),
    "FullyConnectedOptionsWeightsFormat": ("DEFAULT", "SHUFFLED4x16INT8"),
    "LSHProjectionType": ("UNKNOWN", "SPARSE", "DENSE"),
    "LSTMKernelType": ("FULL", "BASIC"),
    "CombinerType": ("SUM", "MEAN", "SQRTN"),
    "MirrorPadMode": ("REFLECT", "SYMMETRIC"),
    # The whole schema enum, wider than ir.TensorType: an option may name any of these.
    "TensorType": (
        "FLOAT32", "FLOAT16", "INT32", "UINT8", "INT64", "STRING", "BOOL", "INT16", "COMPLEX64",
        "INT8", "FLOAT64", "COMPLEX128", "UINT64", "RESOURCE", "VARIANT", "UINT32", "UINT16", "INT4",
        "BFLOAT16", "INT2", "UINT4", "FLOAT8_E4M3FN", "FLOAT8_E5M2",
    ),
})  # fmt: skip
# Scalar kinds: (little-endian numpy dtype of the stored value, inclusive range of ints or None).
SCALAR_KINDS: Mapping[str, tuple[str, Any]] = MappingProxyType({
    "bool": ("?", None),
    "uint8": ("u1", (0, 2**8 - 1)),
    "int32": ("<i4", (-(2**31), 2**31 - 1)),
    "uint32": ("<u4", (0, 2**32 - 1)),
    "int64": ("<i8", (-(2**63), 2**63 - 1)),
    "float32": ("<f4", None),
})  # fmt: skip
# Vector kinds and their element kinds.
VECTOR_KINDS: Mapping[str, str] = MappingProxyType(
    {"int32[]": "int32", "uint8[]": "uint8", "float32[]": "float32"}
)
STRING = "string"
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class Field(NamedTuple):
    name: str
    slot: int
    kind: str
    default: Any


class OptionsTable(NamedTuple):
    name: str
    union_id: int  # its value in the BuiltinOptions union
    fields: tuple[Field, ...]


_PAD = ("padding", "Padding", "SAME")
_ACT = ("fused_activation_function", "ActivationFunctionType", "NONE")
_BIAS = ("quantized_bias_type", "TensorType", "FLOAT32")

# (union id, table, operators using it, fields as (name, kind, default) or (name, slot, kind, default);
# a field without a slot takes the one after the previous field's).
_TABLES: tuple[tuple[int, str, tuple[str, ...], tuple[tuple[Any, ...], ...]], ...] = (
    (1, "Conv2DOptions", ("CONV_2D",), (
        _PAD, ("stride_w", "int32", 0), ("stride_h", "int32", 0), _ACT,
        ("dilation_w_factor", "int32", 1), ("dilation_h_factor", "int32", 1), _BIAS)),
    (2, "DepthwiseConv2DOptions", ("DEPTHWISE_CONV_2D",), (
        _PAD, ("stride_w", "int32", 0), ("stride_h", "int32", 0), ("depth_multiplier", "int32", 0),
        _ACT, ("dilation_w_factor", "int32", 1), ("dilation_h_factor", "int32", 1))),
    (3, "ConcatEmbeddingsOptions", ("CONCAT_EMBEDDINGS",), (
        ("num_channels", "int32", 0), ("num_columns_per_channel", "int32[]", ()),
        ("embedding_dim_per_channel", "int32[]", ()))),
    (4, "LSHProjectionOptions", ("LSH_PROJECTION",), (("type", "LSHProjectionType", "UNKNOWN"),)),
    (5, "Pool2DOptions", ("AVERAGE_POOL_2D", "L2_POOL_2D", "MAX_POOL_2D"), (
        _PAD, ("stride_w", "int32", 0), ("stride_h", "int32", 0), ("filter_width", "int32", 0),
        ("filter_height", "int32", 0), _ACT)),
    (6, "SVDFOptions", ("SVDF",), (
        ("rank", "int32", 0), _ACT, ("asymmetric_quantize_inputs", "bool", False))),
    (7, "RNNOptions", ("RNN",), (_ACT, ("asymmetric_quantize_inputs", "bool", False))),
    (8, "FullyConnectedOptions", ("FULLY_CONNECTED",), (
        _ACT, ("weights_format", "FullyConnectedOptionsWeightsFormat", "DEFAULT"),
        ("keep_num_dims", "bool", False), ("asymmetric_quantize_inputs", "bool", False), _BIAS,
        ("quant_spec", "uint8[]", ()))),
    (9, "SoftmaxOptions", ("SOFTMAX",), (("beta", "float32", 0.0),)),
    (10, "ConcatenationOptions", ("CONCATENATION",), (("axis", "int32", 0), _ACT)),
    (11, "AddOptions", ("ADD",), (_ACT, ("pot_scale_int16", "bool", True))),
    (12, "L2NormOptions", ("L2_NORMALIZATION",), (_ACT,)),
    (13, "LocalResponseNormalizationOptions", ("LOCAL_RESPONSE_NORMALIZATION",), (
        ("radius", "int32", 0), ("bias", "float32", 0.0), ("alpha", "float32", 0.0),
        ("beta", "float32", 0.0))),
    (14, "LSTMOptions", ("LSTM",), (
        _ACT, ("cell_clip", "float32", 0.0), ("proj_clip", "float32", 0.0),
        ("kernel_type", "LSTMKernelType", "FULL"), ("asymmetric_quantize_inputs", "bool", False))),
    # Slots 0 and 1 (new_height, new_width) are deprecated.
    (15, "ResizeBilinearOptions", ("RESIZE_BILINEAR",), (
        ("align_corners", 2, "bool", False), ("half_pixel_centers", "bool", False))),
    (16, "CallOptions", ("CALL",), (("subgraph", "uint32", 0),)),
    (17, "ReshapeOptions", ("RESHAPE",), (("new_shape", "int32[]", ()),)),
    (18, "SkipGramOptions", ("SKIP_GRAM",), (
        ("ngram_size", "int32", 0), ("max_skip_size", "int32", 0),
        ("include_all_ngrams", "bool", False))),
    (19, "SpaceToDepthOptions", ("SPACE_TO_DEPTH",), (("block_size", "int32", 0),)),
    (20, "EmbeddingLookupSparseOptions", ("EMBEDDING_LOOKUP_SPARSE",), (
        ("combiner", "CombinerType", "SUM"),)),
    (21, "MulOptions", ("MUL",), (_ACT,)),
    (22, "PadOptions", ("PAD",), ()),
    (23, "GatherOptions", ("GATHER",), (("axis", "int32", 0), ("batch_dims", "int32", 0))),
    (24, "BatchToSpaceNDOptions", ("BATCH_TO_SPACE_ND",), ()),
    (25, "SpaceToBatchNDOptions", ("SPACE_TO_BATCH_ND",), ()),
    (26, "TransposeOptions", ("TRANSPOSE",), ()),
    (27, "ReducerOptions", (
        "MEAN", "SUM", "REDUCE_PROD", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_ANY", "REDUCE_ALL"),
        (("keep_dims", "bool", False),)),
    (28, "SubOptions", ("SUB",), (_ACT, ("pot_scale_int16", "bool", True))),
    (29, "DivOptions", ("DIV",), (_ACT,)),
    (30, "SqueezeOptions", ("SQUEEZE",), (("squeeze_dims", "int32[]", ()),)),
    (31, "SequenceRNNOptions", ("UNIDIRECTIONAL_SEQUENCE_RNN",), (
        ("time_major", "bool", False), _ACT, ("asymmetric_quantize_inputs", "bool", False))),
    (32, "StridedSliceOptions", ("STRIDED_SLICE",), (
        ("begin_mask", "int32", 0), ("end_mask", "int32", 0), ("ellipsis_mask", "int32", 0),
        ("new_axis_mask", "int32", 0), ("shrink_axis_mask", "int32", 0), ("offset", "bool", False))),
    (33, "ExpOptions", ("EXP",), ()),
    (34, "TopKV2Options", ("TOPK_V2",), ()),
    (35, "SplitOptions", ("SPLIT",), (("num_splits", "int32", 0),)),
    (36, "LogSoftmaxOptions", ("LOG_SOFTMAX",), ()),
    (37, "CastOptions", ("CAST",), (
        ("in_data_type", "TensorType", "FLOAT32"), ("out_data_type", "TensorType", "FLOAT32"))),
    (38, "DequantizeOptions", ("DEQUANTIZE",), ()),
    (39, "MaximumMinimumOptions", ("MAXIMUM", "MINIMUM"), ()),
    (40, "ArgMaxOptions", ("ARG_MAX",), (("output_type", "TensorType", "FLOAT32"),)),
    (41, "LessOptions", ("LESS",), ()),
    (42, "NegOptions", ("NEG",), ()),
    (43, "PadV2Options", ("PADV2",), ()),
    (44, "GreaterOptions", ("GREATER",), ()),
    (45, "GreaterEqualOptions", ("GREATER_EQUAL",), ()),
    (46, "LessEqualOptions", ("LESS_EQUAL",), ()),
    (47, "SelectOptions", ("SELECT",), ()),
    (48, "SliceOptions", ("SLICE",), ()),
    (49, "TransposeConvOptions", ("TRANSPOSE_CONV",), (
        _PAD, ("stride_w", "int32", 0), ("stride_h", "int32", 0), _ACT, _BIAS)),
    (50, "SparseToDenseOptions", ("SPARSE_TO_DENSE",), (("validate_indices", "bool", False),)),
    (51, "TileOptions", ("TILE",), ()),
    (52, "ExpandDimsOptions", ("EXPAND_DIMS",), ()),
    (53, "EqualOptions", ("EQUAL",), ()),
    (54, "NotEqualOptions", ("NOT_EQUAL",), ()),
    (55, "ShapeOptions", ("SHAPE",), (("out_type", "TensorType", "FLOAT32"),)),
    (56, "PowOptions", ("POW",), ()),
    (57, "ArgMinOptions", ("ARG_MIN",), (("output_type", "TensorType", "FLOAT32"),)),
    (58, "FakeQuantOptions", ("FAKE_QUANT",), (
        ("min", "float32", 0.0), ("max", "float32", 0.0), ("num_bits", "int32", 0),
        ("narrow_range", "bool", False))),
    (59, "PackOptions", ("PACK",), (("values_count", "int32", 0), ("axis", "int32", 0))),
    (60, "LogicalOrOptions", ("LOGICAL_OR",), ()),
    (61, "OneHotOptions", ("ONE_HOT",), (("axis", "int32", 0),)),
    (62, "LogicalAndOptions", ("LOGICAL_AND",), ()),
    (63, "LogicalNotOptions", ("LOGICAL_NOT",), ()),
    (64, "UnpackOptions", ("UNPACK",), (("num", "int32", 0), ("axis", "int32", 0))),
    (65, "FloorDivOptions", ("FLOOR_DIV",), ()),
    (66, "SquareOptions", ("SQUARE",), ()),
    (67, "ZerosLikeOptions", ("ZEROS_LIKE",), ()),
    (68, "FillOptions", ("FILL",), ()),
    (69, "BidirectionalSequenceLSTMOptions", ("BIDIRECTIONAL_SEQUENCE_LSTM",), (
        _ACT, ("cell_clip", "float32", 0.0), ("proj_clip", "float32", 0.0),
        ("merge_outputs", "bool", False), ("time_major", "bool", True),
        ("asymmetric_quantize_inputs", "bool", False))),
    (70, "BidirectionalSequenceRNNOptions", ("BIDIRECTIONAL_SEQUENCE_RNN",), (
        ("time_major", "bool", False), _ACT, ("merge_outputs", "bool", False),
        ("asymmetric_quantize_inputs", "bool", False))),
    (71, "UnidirectionalSequenceLSTMOptions", ("UNIDIRECTIONAL_SEQUENCE_LSTM",), (
        _ACT, ("cell_clip", "float32", 0.0), ("proj_clip", "float32", 0.0),
        ("time_major", "bool", False), ("asymmetric_quantize_inputs", "bool", False),
        ("diagonal_recurrent_tensors", "bool", False))),
    (72, "FloorModOptions", ("FLOOR_MOD",), ()),
    (73, "RangeOptions", ("RANGE",), ()),
    (74, "ResizeNearestNeighborOptions", ("RESIZE_NEAREST_NEIGHBOR",), (
        ("align_corners", "bool", False), ("half_pixel_centers", "bool", False))),
    (75, "LeakyReluOptions", ("LEAKY_RELU",), (("alpha", "float32", 0.0),)),
    (76, "SquaredDifferenceOptions", ("SQUARED_DIFFERENCE",), ()),
    (77, "MirrorPadOptions", ("MIRROR_PAD",), (("mode", "MirrorPadMode", "REFLECT"),)),
    (78, "AbsOptions", ("ABS",), ()),
    (79, "SplitVOptions", ("SPLIT_V",), (("num_splits", "int32", 0),)),
    (80, "UniqueOptions", ("UNIQUE",), (("idx_out_type", "TensorType", "INT32"),)),
    (81, "ReverseV2Options", ("REVERSE_V2",), ()),
    (82, "AddNOptions", ("ADD_N",), ()),
    (83, "GatherNdOptions", ("GATHER_ND",), ()),
    (84, "CosOptions", ("COS",), ()),
    (85, "WhereOptions", ("WHERE",), ()),
    (86, "RankOptions", ("RANK",), ()),
    (87, "ReverseSequenceOptions", ("REVERSE_SEQUENCE",), (
        ("seq_dim", "int32", 0), ("batch_dim", "int32", 0))),
    (88, "MatrixDiagOptions", ("MATRIX_DIAG",), ()),
    (89, "QuantizeOptions", ("QUANTIZE",), ()),
    (90, "MatrixSetDiagOptions", ("MATRIX_SET_DIAG",), ()),
    (91, "HardSwishOptions", ("HARD_SWISH",), ()),
    (92, "IfOptions", ("IF",), (
        ("then_subgraph_index", "int32", 0), ("else_subgraph_index", "int32", 0))),
    (93, "WhileOptions", ("WHILE",), (
        ("cond_subgraph_index", "int32", 0), ("body_subgraph_index", "int32", 0))),
    (94, "DepthToSpaceOptions", ("DEPTH_TO_SPACE",), (("block_size", "int32", 0),)),
    (95, "NonMaxSuppressionV4Options", ("NON_MAX_SUPPRESSION_V4",), ()),
    (96, "NonMaxSuppressionV5Options", ("NON_MAX_SUPPRESSION_V5",), ()),
    (97, "ScatterNdOptions", ("SCATTER_ND",), ()),
    (98, "SelectV2Options", ("SELECT_V2",), ()),
    (99, "DensifyOptions", ("DENSIFY",), ()),
    (100, "SegmentSumOptions", ("SEGMENT_SUM",), ()),
    (101, "BatchMatMulOptions", ("BATCH_MATMUL",), (
        ("adj_x", "bool", False), ("adj_y", "bool", False), ("asymmetric_quantize_inputs", "bool", False))),
    (102, "CumsumOptions", ("CUMSUM",), (("exclusive", "bool", False), ("reverse", "bool", False))),
    (103, "CallOnceOptions", ("CALL_ONCE",), (("init_subgraph_index", "int32", 0),)),
    (104, "BroadcastToOptions", ("BROADCAST_TO",), ()),
    (105, "Rfft2dOptions", ("RFFT2D",), ()),
    (106, "Conv3DOptions", ("CONV_3D", "CONV_3D_TRANSPOSE"), (
        _PAD, ("stride_d", "int32", 0), ("stride_w", "int32", 0), ("stride_h", "int32", 0), _ACT,
        ("dilation_d_factor", "int32", 1), ("dilation_w_factor", "int32", 1),
        ("dilation_h_factor", "int32", 1))),
    (107, "HashtableOptions", ("HASHTABLE",), (
        ("table_id", "int32", 0), ("key_dtype", "TensorType", "FLOAT32"),
        ("value_dtype", "TensorType", "FLOAT32"))),
    (108, "HashtableFindOptions", ("HASHTABLE_FIND",), ()),
    (109, "HashtableImportOptions", ("HASHTABLE_IMPORT",), ()),
    (110, "HashtableSizeOptions", ("HASHTABLE_SIZE",), ()),
    (111, "VarHandleOptions", ("VAR_HANDLE",), (("container", "string", ""), ("shared_name", "string", ""))),
    (112, "ReadVariableOptions", ("READ_VARIABLE",), ()),
    (113, "AssignVariableOptions", ("ASSIGN_VARIABLE",), ()),
    (114, "RandomOptions", ("RANDOM_STANDARD_NORMAL", "RANDOM_UNIFORM", "MULTINOMIAL"), (
        ("seed", "int64", 0), ("seed2", "int64", 0))),
    (115, "BucketizeOptions", ("BUCKETIZE",), (("boundaries", "float32[]", ()),)),
    (116, "GeluOptions", ("GELU",), (("approximate", "bool", False),)),
    (117, "DynamicUpdateSliceOptions", ("DYNAMIC_UPDATE_SLICE",), ()),
    (118, "UnsortedSegmentProdOptions", ("UNSORTED_SEGMENT_PROD",), ()),
    (119, "UnsortedSegmentMaxOptions", ("UNSORTED_SEGMENT_MAX",), ()),
    (120, "UnsortedSegmentMinOptions", ("UNSORTED_SEGMENT_MIN",), ()),
    (121, "UnsortedSegmentSumOptions", ("UNSORTED_SEGMENT_SUM",), ()),
    (122, "ATan2Options", ("ATAN2",), ()),
    (123, "SignOptions", ("SIGN",), ()),
    (124, "BitcastOptions", ("BITCAST",), ()),
    (125, "BitwiseXorOptions", ("BITWISE_XOR",), ()),
    (126, "RightShiftOptions", ("RIGHT_SHIFT",), ()),
)  # fmt: skip


def _fields(raw: tuple[tuple[Any, ...], ...]) -> tuple[Field, ...]:
    fields: list[Field] = []
    for entry in raw:
        if len(entry) == 3:
            name, kind, default = entry
            slot = fields[-1].slot + 1 if fields else 0
        else:
            name, slot, kind, default = entry
        fields.append(Field(name, slot, kind, default))
    return tuple(fields)


OPTIONS_TABLES: Mapping[str, OptionsTable] = MappingProxyType(
    {name: OptionsTable(name, union_id, _fields(raw)) for union_id, name, _, raw in _TABLES}
)
OPTIONS_BY_UNION_ID: Mapping[int, OptionsTable] = MappingProxyType(
    {table.union_id: table for table in OPTIONS_TABLES.values()}
)
# The options table of every builtin operator that has one (BuiltinOptions union only; the
# StableHLO ops' BuiltinOptions2 tables are not covered, so those ops read with empty options).
OPTIONS_BY_OPCODE: Mapping[str, OptionsTable] = MappingProxyType(
    {op: OPTIONS_TABLES[name] for _, name, ops, _ in _TABLES for op in ops}
)
# CUSTOM operators carry their custom_code and raw (flexbuffer) custom_options as options.
CUSTOM_DEFAULTS: Mapping[str, Any] = MappingProxyType({"custom_code": "", "custom_options": b""})


def default_options(opcode: str) -> dict[str, Any]:
    """Every option of `opcode` at its schema default ({} for an op without an options table)."""
    if opcode == CUSTOM:
        return dict(CUSTOM_DEFAULTS)
    table = OPTIONS_BY_OPCODE.get(opcode)
    return {} if table is None else {f.name: f.default for f in table.fields}


def normalize_options(opcode: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """All options of `opcode`: the given ones checked and converted to the IR form, the rest defaults.

    Raises ModelError for an unknown operator, an unknown option name or a value of the wrong kind.
    """
    if opcode not in BUILTIN_CODES or opcode == BUILTIN_OPERATORS[PLACEHOLDER_FOR_GREATER_OP_CODES]:
        raise ModelError(f"unknown operator {opcode!r}")
    result = default_options(opcode)
    unknown = sorted(set(options) - set(result))
    if unknown:
        known = ", ".join(result) or "none"
        raise ModelError(f"{opcode}: unknown option(s) {', '.join(unknown)} (known: {known})")
    if opcode == CUSTOM:
        return _normalize_custom(options, result)
    if not options:
        return result
    kinds = {f.name: f.kind for f in OPTIONS_BY_OPCODE[opcode].fields}
    for name, value in options.items():
        try:
            result[name] = convert_option(kinds[name], value)
        except (TypeError, ValueError, OverflowError) as error:
            raise ModelError(f"{opcode}: option {name}: {error}") from None
    return result


def _normalize_custom(options: Mapping[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    result.update(options)
    if not isinstance(result["custom_code"], str) or not result["custom_code"]:
        raise ModelError(f"CUSTOM: option custom_code must be a non-empty str, got {result['custom_code']!r}")
    if not isinstance(result["custom_options"], (bytes, bytearray, memoryview)):
        raise ModelError(f"CUSTOM: option custom_options must be bytes, got {type(result['custom_options'])}")
    result["custom_options"] = bytes(result["custom_options"])
    return result


def convert_option(kind: str, value: Any) -> Any:
    """`value` converted to the IR form of `kind`; TypeError/ValueError if it does not fit."""
    if kind in ENUMS:
        return _convert_enum(kind, value)
    if kind in VECTOR_KINDS:
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise TypeError(f"expected a sequence of numbers, got {value!r}")
        return tuple(convert_option(VECTOR_KINDS[kind], v) for v in value)
    if kind == STRING:
        if not isinstance(value, str):
            raise TypeError(f"expected a str, got {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"expected a bool, got {value!r}")
        return bool(value)
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"expected a number, got {value!r}")
    if kind == "float32":
        return _convert_float32(value)
    return _convert_int(kind, value)


def _convert_float32(value: Any) -> float:
    if not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"expected a number, got {value!r}")
    if math.isfinite(value) and abs(float(value)) > _FLOAT32_MAX:
        raise OverflowError(f"{value!r} does not fit a float32")
    return float(np.float32(value))


def _convert_int(kind: str, value: Any) -> int:
    if not isinstance(value, (int, np.integer)):
        raise TypeError(f"expected an int, got {value!r}")
    low, high = SCALAR_KINDS[kind][1]
    if not low <= int(value) <= high:
        raise ValueError(f"{value} is outside the {kind} range {low}..{high}")
    return int(value)


def _convert_enum(kind: str, value: Any) -> str:
    if isinstance(value, Enum):
        value = value.name
    names = ENUMS[kind]
    if isinstance(value, str):
        by_upper = {name.upper(): name for name in names}
        if value.upper() in by_upper:
            return by_upper[value.upper()]
    raise ValueError(f"{value!r} is not a {kind} (one of {', '.join(names)})")
