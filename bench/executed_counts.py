"""Executed instructions of CMSIS-NN's int8 kernels, counted under instruction-level emulators.

    git clone https://github.com/ARM-software/CMSIS-NN /tmp/cmsis-nn       # anywhere outside this repository
    python bench/executed_counts.py --cmsis-nn /tmp/cmsis-nn --write --compare        # Cortex-M4 (DSP path)
    python bench/executed_counts.py --cmsis-nn /tmp/cmsis-nn --core cortex-m55 --write  # Helium (MVE path)
    options: --core cortex-m3 (plain-C path), --only NAME (kernel functions containing NAME), --no-models,
             --max-macs N, --data DIR, --build-dir DIR

Builds CMSIS-NN (the checkout given; nothing of it is copied here) and our harness (bench/executed/: it calls
one kernel as TFLM's Prepare and Eval would) with arm-none-eabi-gcc -Ofast (CMSIS-NN's recommendation) and
-ffunction-sections, for the core's path: Cortex-M4 `-mcpu=cortex-m4 -mthumb -mfloat-abi=soft` (ARM_MATH_DSP),
Cortex-M3 (plain C), Cortex-M55 `-mcpu=cortex-m55 -mfloat-abi=hard` (ARM_MATH_MVEI). Then it runs every kernel
call of the grid and counts, per call:
- executed instructions by class (`CLASSES`: ALU, multiply/MAC/divide, SIMD dual MAC, load, store, branch,
  other, vector), from the mnemonics of every executed instruction;
- data memory accesses (count and bytes, reads and writes) by region (`REGIONS`: code constants, weights,
  bias and multipliers, activations in, activations out, scratch, stack, the harness's parameters);
- entries into and instructions of each function (memcpy, arm_nn_mat_mult_kernel_s8_s16, ...).
Cortex-M4/M3 run under unicorn (every basic block and memory access hooked, blocks disassembled by capstone).
Cortex-M55 runs on qemu-system-arm's mps3-an547 machine (unicorn has no MVE) with one instruction per
translation block and every execution logged, classified from objdump's disassembly: instructions only,
since Debian's qemu has no TCG plugins to see memory accesses (a qemu built with --enable-plugins and its
contrib "mem"/"hwprofile" plugins would give them).

The grid: every CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, AVERAGE_POOL_2D and SOFTMAX of the MLPerf
Tiny reference models (`--data`, default ../shared/mlperf-tiny; the zoo stand-ins when missing), each through
the wrapper TFLM calls and through every specialised kernel that accepts its shape; plus small synthetic
shapes that vary one dimension at a time, so per-call, per-row and per-output terms can be separated.
Layers above `--max-macs` are scaled down to fewer output rows (the input rows they read; the top padding
kept, the bottom one dropped) and marked `scaled_from`.

`--write` writes bench/data/executed_counts_<m4|m3|m0plus|m55>.json (one record per kernel function, path and
shape, with the compiler, emulator and CMSIS-NN versions); the same command reproduces it: data are seeded,
the emulators deterministic. `--compare` prints, for each call TFLM makes, the executed cycles estimate
(instructions x the core profile's cost per class; no pipeline stalls, wait states or cache misses) next to
what tinyinterp.cost predicts for a one-layer model of the same shape. Needs `pip install unicorn capstone`
and the Debian packages gcc-arm-none-eabi and libnewlib-arm-none-eabi (installed with apt-get when missing and
running as root), plus qemu-system-arm for Cortex-M55. CMSIS-NN needs no CMSIS-Core headers: its
Internal/arm_nn_compiler.h takes the intrinsics from the compiler's arm_acle.h / arm_mve.h.
"""

from __future__ import annotations

import argparse
import bisect
import concurrent.futures
import hashlib
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinyinterp.cost.loops import CLASSES, price  # noqa: E402
from tinyinterp.errors import TinyInterpError  # noqa: E402

EXECUTED = ROOT / "bench" / "executed"
DATA = ROOT / "bench" / "data"


class ExecutedCountsError(TinyInterpError):
    """The tool cannot run: no toolchain, not a CMSIS-NN checkout, a build or emulation failure."""


# --- instruction classes -----------------------------------------------------------------------------------

_CONDITION = r"(?:eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?"
_BRANCH = re.compile(rf"^(?:b|bl|blx|bx){_CONDITION}$|^(?:cbz|cbnz|tbb|tbh|le|letp|wls|wlstp)$")
_SIMD_MAC = re.compile(rf"^(?:smlal?d|smlsl?d|smuad|smusd)x?{_CONDITION}$")
_IT = re.compile(r"^it[te]{0,3}$")
_MUL = (
    "mul",
    "mla",
    "mls",
    "smul",
    "umul",
    "smla",
    "umla",
    "umaal",
    "smmul",
    "smmla",
    "smmls",
    "sdiv",
    "udiv",
)
_LOAD = ("ldr", "ldm", "pop", "lda")
_STORE = ("str", "stm", "push", "stl")
_OTHER = frozenset({"nop", "bkpt", "dmb", "dsb", "isb", "svc", "wfi", "wfe", "cpsid", "cpsie", "mrs", "msr"})
_LOOP_SETUP = frozenset({"dls", "dlstp"})


def instruction_class(mnemonic: str) -> str:
    """The class of a Thumb instruction from its capstone mnemonic (".w", ".n" and MVE type suffixes ignored).

    Conditional forms inside IT blocks ("movgt", "ldrbne") count in their base class: a Cortex-M spends an
    issue slot on them whether or not the condition holds.
    """
    base = mnemonic.lower().split(".", 1)[0]
    if base.startswith("v"):
        return "vector"
    if _BRANCH.match(base):
        return "branch"
    if base.startswith(_LOAD):
        return "load"
    if base.startswith(_STORE):
        return "store"
    if _SIMD_MAC.match(base):
        return "simd_mac"
    if base.startswith(_MUL):
        return "mul"
    if _IT.match(base) or base in _OTHER or base in _LOOP_SETUP:
        return "other"
    return "alu"


# --- memory regions ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    name: str
    base: int
    size: int


MIB = 1 << 20
# Code and constants at 0 (as flash), each kernel operand in its own region, the harness's data at 0x30000000.
# Addresses match bench/executed/harness.ld; sizes are multiples of unicorn's 4 KiB pages.
REGIONS = (
    Region("code", 0x0000_0000, MIB),
    Region("weights", 0x0800_0000, 4 * MIB),
    Region("bias_quant", 0x0900_0000, MIB),  # bias, per-channel multipliers and shifts
    Region("act_in", 0x2000_0000, 4 * MIB),  # input 1 at the base, input 2 (ADD) half-way
    Region("act_out", 0x2100_0000, 4 * MIB),
    Region("scratch", 0x2200_0000, 4 * MIB),
    Region("stack", 0x2300_0000, 64 * 1024),
    Region("harness", 0x3000_0000, 64 * 1024),  # job_t and the parameter structs TFLM keeps in its op data
)
# Cortex-M55 under qemu's mps3-an547 (bench/executed/harness_m55.ld): code in its ITCM, the harness's data and
# stack in its DTCM, the operands and `job` in its DDR. qemu counts no memory accesses: for addresses only.
M55_REGIONS = (
    Region("code", 0x0000_0000, 512 * 1024),
    Region("harness", 0x2000_0000, 512 * 1024),
    Region("weights", 0x6000_0000, 4 * MIB),
    Region("bias_quant", 0x6100_0000, MIB),
    Region("act_in", 0x6200_0000, 4 * MIB),
    Region("act_out", 0x6300_0000, 4 * MIB),
    Region("scratch", 0x6400_0000, 4 * MIB),
)


@dataclass
class Access:
    reads: int = 0
    read_bytes: int = 0
    writes: int = 0
    write_bytes: int = 0


class MemoryTally:
    """Data accesses by region: `record` is called for every load and store the emulator executes."""

    def __init__(self, regions: Sequence[Region]) -> None:
        self.regions = sorted(regions, key=lambda r: r.base)
        self._bases = [r.base for r in self.regions]
        self.counts = {r.name: Access() for r in self.regions}

    def region_of(self, address: int) -> Region:
        i = bisect.bisect_right(self._bases, address) - 1
        if i < 0 or address >= self.regions[i].base + self.regions[i].size:
            raise ExecutedCountsError(f"access at 0x{address:08x} is outside every region")
        return self.regions[i]

    def record(self, address: int, size: int, write: bool) -> None:
        access = self.counts[self.region_of(address).name]
        if write:
            access.writes += 1
            access.write_bytes += size
        else:
            access.reads += 1
            access.read_bytes += size

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {name: asdict(a) for name, a in self.counts.items() if a.reads or a.writes}


# --- targets and the build ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    core: str  # a tinyinterp core profile
    path: str  # CMSIS-NN's code path the flags select
    cflags: tuple[str, ...]
    emulator: str  # a unicorn.arm_const CPU name, or "qemu" (mps3-an547)
    regions: tuple[Region, ...] = REGIONS
    linker_script: str = "harness.ld"
    startup: tuple[str, ...] = ()  # sources of bench/executed besides harness.c


TARGETS = {
    "cortex-m4": Target(
        "cortex-m4",
        "dsp",
        ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft", "-Ofast"),
        "UC_CPU_ARM_CORTEX_M4",
    ),
    "cortex-m3": Target(
        "cortex-m3", "c", ("-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft", "-Ofast"), "UC_CPU_ARM_CORTEX_M3"
    ),
    # Armv6-M: the same C path in the smaller Thumb instruction set (8 low registers, no MLA, no IT).
    "cortex-m0plus": Target(
        "cortex-m0plus",
        "c",
        ("-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft", "-Ofast"),
        "UC_CPU_ARM_CORTEX_M0",
    ),
    # Helium needs the hard-float ABI (with -mfloat-abi=soft GCC drops MVE and CMSIS-NN takes the DSP path).
    "cortex-m55": Target(
        "cortex-m55",
        "mve",
        ("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard", "-Ofast"),
        "qemu",
        M55_REGIONS,
        "harness_m55.ld",
        ("startup_m55.c",),
    ),
}
GCC = "arm-none-eabi-gcc"
# Floating-point kernels are disabled by CMSIS-NN's defaults; their files are skipped to save build time.
_FLOAT_SOURCE = re.compile(r"_(f16|f32|flt)\.c$")


def ensure_toolchain() -> str:
    """arm-none-eabi-gcc with newlib, installed with apt-get when missing and allowed (root, Debian)."""
    gcc = shutil.which(GCC)
    if gcc and _has_newlib(gcc):
        return gcc
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing gcc-arm-none-eabi and libnewlib-arm-none-eabi with apt-get ...", file=sys.stderr)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "gcc-arm-none-eabi", "libnewlib-arm-none-eabi"],
            check=False,
            stdout=subprocess.DEVNULL,
        )
        gcc = shutil.which(GCC)
        if gcc and _has_newlib(gcc):
            return gcc
    raise ExecutedCountsError(
        "arm-none-eabi-gcc with newlib not found: install the Debian packages gcc-arm-none-eabi and "
        "libnewlib-arm-none-eabi (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)"
    )


def _has_newlib(gcc: str) -> bool:
    found = subprocess.run([gcc, "-print-file-name=libc.a"], capture_output=True, text=True, check=False)
    return os.path.isabs(found.stdout.strip())


def _tool_output(command: Sequence[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()


def cmsis_nn_identity(cmsis_nn: Path) -> dict[str, str]:
    """The checkout's git commit (when it is a git work tree) and a digest of its Include and Source files."""
    digest = hashlib.sha256()
    for path in sorted(cmsis_nn.glob("Include/**/*.h")) + sorted(cmsis_nn.glob("Source/**/*.c")):
        digest.update(path.relative_to(cmsis_nn).as_posix().encode())
        digest.update(path.read_bytes())
    commit = _tool_output(["git", "-C", str(cmsis_nn), "rev-parse", "HEAD"])
    return {
        "commit": commit if re.fullmatch(r"[0-9a-f]{40}", commit) else "unknown",
        "sources_sha256": digest.hexdigest(),
    }


def check_cmsis_nn(cmsis_nn: Path) -> Path:
    if not (cmsis_nn / "Include" / "arm_nnfunctions.h").is_file() or not (cmsis_nn / "Source").is_dir():
        raise ExecutedCountsError(
            f"{cmsis_nn} is not a CMSIS-NN checkout (no Include/arm_nnfunctions.h and Source/): "
            "git clone https://github.com/ARM-software/CMSIS-NN"
        )
    return cmsis_nn.resolve()


def build(gcc: str, cmsis_nn: Path, target: Target, build_dir: Path) -> Path:
    """Compile CMSIS-NN's integer sources and the harness (two at a time, under nice); link; the ELF path."""
    flags = [*target.cflags, "-ffunction-sections", "-fdata-sections", f"-I{cmsis_nn / 'Include'}"]
    sources = [p for p in sorted((cmsis_nn / "Source").glob("*/*.c")) if not _FLOAT_SOURCE.search(p.name)]
    sources += [EXECUTED / name for name in ("harness.c", *target.startup)]
    build_dir.mkdir(parents=True, exist_ok=True)

    def compile_one(source: Path) -> Path:
        obj = build_dir / (source.stem + ".o")
        if not obj.exists() or obj.stat().st_mtime < source.stat().st_mtime:
            result = subprocess.run(
                ["nice", gcc, *flags, "-c", str(source), "-o", str(obj)], capture_output=True, text=True
            )
            if result.returncode != 0:
                first = (result.stderr.strip().splitlines() or ["?"])[0]
                raise ExecutedCountsError(f"compiling {source} failed: {first}")
        return obj

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        objects = list(pool.map(compile_one, sources))
    elf = build_dir / "harness.elf"
    script = EXECUTED / target.linker_script
    link = [gcc, *target.cflags, "-nostartfiles", "-specs=nano.specs", f"-T{script}", "-Wl,--gc-sections"]
    result = subprocess.run([*link, *map(str, objects), "-o", str(elf)], capture_output=True, text=True)
    if result.returncode != 0:
        raise ExecutedCountsError(f"linking the harness failed: {result.stderr.strip()[:300]}")
    return elf


# --- the firmware image ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Symbol:
    name: str
    address: int
    size: int


@dataclass(frozen=True)
class Firmware:
    segments: tuple[tuple[int, bytes, int], ...]  # (address, file bytes, memory size) of each PT_LOAD
    functions: tuple[Symbol, ...]  # sorted by address
    objects: dict[str, Symbol]

    def function(self, name: str) -> Symbol:
        found = next((f for f in self.functions if f.name == name), None)
        if found is None:
            raise ExecutedCountsError(f"the harness firmware has no function {name}")
        return found

    def job_address(self) -> int:
        """Where the driver writes job_t, after checking that harness.c and JOB_FIELDS agree on its size."""
        words = self.objects["job_words"].address
        for base, data, _ in self.segments:
            if base <= words < base + len(data):
                count = int.from_bytes(data[words - base : words - base + 4], "little")
                if count != len(JOB_FIELDS):
                    raise ExecutedCountsError(
                        f"harness job_t has {count} words, the driver {len(JOB_FIELDS)}"
                    )
                return self.objects["job"].address
        raise ExecutedCountsError("job_words is not in the firmware image")

    def function_at(self, address: int) -> Symbol | None:
        i = bisect.bisect_right([f.address for f in self.functions], address) - 1
        if i >= 0 and address < self.functions[i].address + max(self.functions[i].size, 2):
            return self.functions[i]
        return None


def read_firmware(elf: Path, gcc: str) -> Firmware:
    data = elf.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 1:
        raise ExecutedCountsError(f"{elf} is not a 32-bit ELF file")
    ph_offset, ph_size, ph_count = struct.unpack_from("<I", data, 28)[0], *struct.unpack_from("<HH", data, 42)
    segments = []
    for i in range(ph_count):
        kind, offset, vaddr, _, filesz, memsz = struct.unpack_from("<6I", data, ph_offset + i * ph_size)
        if kind == 1 and memsz:  # PT_LOAD
            segments.append((vaddr, data[offset : offset + filesz], memsz))
    readelf = gcc.replace("gcc", "readelf")
    functions, objects = [], {}
    for line in _tool_output([readelf, "-sW", str(elf)]).splitlines():
        parts = line.split()  # Num: Value Size Type Bind Vis Ndx Name
        if len(parts) != 8 or parts[3] not in ("FUNC", "OBJECT", "NOTYPE") or parts[6] == "UND":
            continue
        symbol = Symbol(parts[7], int(parts[1], 16) & ~1, int(parts[2]))
        if parts[3] == "FUNC":
            functions.append(symbol)
        else:
            objects[symbol.name] = symbol
    return Firmware(tuple(segments), tuple(sorted(functions, key=lambda s: s.address)), objects)


# --- layer shapes and the kernel calls of the grid ---------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """One layer's shape, as CMSIS-NN's dims and params see it (NHWC; `out_c` = units for FC, elements for
    ADD, row size for SOFTMAX with `n` rows)."""

    op: str  # conv | depthwise | fc | add | avgpool | softmax
    source: str  # "kws op 3", "synthetic"
    n: int = 1
    in_h: int = 1
    in_w: int = 1
    in_c: int = 1
    out_h: int = 1
    out_w: int = 1
    out_c: int = 1
    k_h: int = 1
    k_w: int = 1
    stride_h: int = 1
    stride_w: int = 1
    pad_h: int = 0
    pad_w: int = 0
    scaled_from: tuple[int, int] | None = None  # the original (in_h, out_h) of a scaled-down layer

    @property
    def macs(self) -> int:
        per_output = {
            "conv": self.k_h * self.k_w * self.in_c,
            "depthwise": self.k_h * self.k_w,
            "fc": self.in_c,
        }
        return self.n * self.out_h * self.out_w * self.out_c * per_output.get(self.op, 0)

    def key(self) -> str:
        if self.op in ("fc", "add", "softmax"):
            return f"{self.op} n={self.n} in={self.in_c} out={self.out_c}"
        geometry = f"k{self.k_h}x{self.k_w} s{self.stride_h}x{self.stride_w} p{self.pad_h}x{self.pad_w}"
        shape = f"{self.in_h}x{self.in_w}x{self.in_c}->{self.out_h}x{self.out_w}x{self.out_c}"
        return f"{self.op} {shape} {geometry}"


# Which kernel functions accept a shape, in CMSIS-NN's own terms (the wrappers choose among them).
def kernels_for(layer: Layer, target: Target) -> list[str]:
    if layer.op == "conv":
        names = ["arm_convolve_wrapper_s8", "arm_convolve_s8"]
        if layer.k_h == layer.k_w == 1 and layer.pad_h == layer.pad_w == 0:
            names.append("arm_convolve_1x1_s8")
            if layer.stride_h == layer.stride_w == 1:
                names.append("arm_convolve_1x1_s8_fast")
        if layer.in_h == 1 and layer.k_h == 1 and (layer.stride_w * layer.in_c) % 4 == 0:
            names.append("arm_convolve_1_x_n_s8")
        return names
    if layer.op == "depthwise":
        names = ["arm_depthwise_conv_wrapper_s8", "arm_depthwise_conv_s8"]
        if layer.in_c == layer.out_c and layer.n == 1:
            names.append("arm_depthwise_conv_s8_opt")
            if layer.k_h == layer.k_w == 3 and layer.pad_h <= 1 and layer.pad_w <= 1 and target.path != "mve":
                names.append("arm_depthwise_conv_3x3_s8")
        return names
    return [
        {
            "fc": "arm_fully_connected_s8",
            "add": "arm_elementwise_add_s8",
            "avgpool": "arm_avgpool_s8",
            "softmax": "arm_softmax_s8",
        }[layer.op]
    ]


# The order of harness.c's enum kernel_id.
KERNEL_IDS = (
    "arm_convolve_wrapper_s8",
    "arm_convolve_1x1_s8_fast",
    "arm_convolve_1x1_s8",
    "arm_convolve_s8",
    "arm_convolve_1_x_n_s8",
    "arm_depthwise_conv_wrapper_s8",
    "arm_depthwise_conv_3x3_s8",
    "arm_depthwise_conv_s8_opt",
    "arm_depthwise_conv_s8",
    "arm_fully_connected_s8",
    "arm_elementwise_add_s8",
    "arm_avgpool_s8",
    "arm_softmax_s8",
)
WRAPPED = {
    "arm_convolve_wrapper_s8": (
        "arm_convolve_1x1_s8_fast",
        "arm_convolve_1x1_s8",
        "arm_convolve_1_x_n_s8",
        "arm_convolve_s8",
    ),
    "arm_depthwise_conv_wrapper_s8": (
        "arm_depthwise_conv_to_conv_s8",  # MVE, one input channel
        "arm_depthwise_conv_3x3_s8",
        "arm_depthwise_conv_s8_opt",
        "arm_depthwise_conv_s8",
    ),
}

MODEL_OPS = {
    "CONV_2D": "conv",
    "DEPTHWISE_CONV_2D": "depthwise",
    "FULLY_CONNECTED": "fc",
    "ADD": "add",
    "AVERAGE_POOL_2D": "avgpool",
    "SOFTMAX": "softmax",
}
REFERENCE_MODELS = {
    "kws": "kws_ref_model.tflite",
    "vww": "vww_96_int8.tflite",
    "ic": "pretrainedResnet_quant.tflite",
    "ad": "ad01_int8.tflite",
    "sww": "str_ww_ref_model.tflite",
}


def model_layers(name: str, model: Any) -> Iterator[Layer]:
    """The layers of a model that the grid covers, with TFLM's padding (the cost model's geometry)."""
    from tinyinterp.cost import profiles
    from tinyinterp.cost.cycles import PATH_DSP, Context, window

    core = profiles.core("cortex-m4")
    board = profiles.generic_board("cortex-m4", 100.0)
    subgraph = model.main
    for op in subgraph.operators:
        kind = MODEL_OPS.get(op.opcode)
        if kind is None:
            continue
        ctx: Context[Any] = Context(subgraph, op, core, board, 100.0, PATH_DSP)  # any op of MODEL_OPS
        x, y = ctx.tensor(0), ctx.tensor(0, output=True)
        assert x is not None and y is not None
        source = f"{name} op {op.index}"
        if kind in ("conv", "depthwise", "avgpool"):
            if kind == "avgpool":
                k_h, k_w = ctx.options.filter_height, ctx.options.filter_width
            else:
                weights = ctx.tensor(1)
                assert weights is not None
                k_h, k_w = weights.shape[1], weights.shape[2]
            w = window(ctx, k_h, k_w)
            yield Layer(
                kind, source, w.n, w.in_h, w.in_w, w.in_c, w.out_h, w.out_w, w.out_c,
                k_h, k_w, w.stride_h, w.stride_w, w.pad_h, w.pad_w,
            )  # fmt: skip
        elif kind == "fc":
            weights = ctx.tensor(1)
            assert weights is not None
            units, depth = weights.shape[0], math.prod(weights.shape) // weights.shape[0]
            yield Layer("fc", source, n=math.prod(y.shape) // units, in_c=depth, out_c=units)
        elif kind == "add":
            yield Layer("add", source, in_c=math.prod(y.shape), out_c=math.prod(y.shape))
        else:
            yield Layer(
                "softmax", source, n=math.prod(x.shape) // x.shape[-1], in_c=x.shape[-1], out_c=x.shape[-1]
            )


def scaled(layer: Layer, max_macs: int) -> Layer:
    """The layer with fewer output rows (and the input rows they read) when it has more than `max_macs`."""
    if layer.macs <= max_macs or layer.out_h <= 2:
        return layer
    rows = max(2, layer.out_h * max_macs // layer.macs)
    in_h = min(layer.in_h, (rows - 1) * layer.stride_h + layer.k_h - layer.pad_h)
    return replace(layer, in_h=in_h, out_h=rows, scaled_from=(layer.in_h, layer.out_h))


def synthetic_layers() -> list[Layer]:
    """Small shapes varying one dimension at a time around a base shape per kernel family."""
    s = "synthetic"
    layers: list[Layer] = []
    for c_in in (8, 16, 32, 64):  # 1x1: depth
        layers.append(Layer("conv", s, 1, 8, 8, c_in, 8, 8, 16))
    for c_out in (8, 32):  # 1x1: filters
        layers.append(Layer("conv", s, 1, 8, 8, 16, 8, 8, c_out))
    for hw in (4, 16):  # 1x1: pixels
        layers.append(Layer("conv", s, 1, hw, hw, 16, hw, hw, 16))
    layers.append(Layer("conv", s, 1, 8, 8, 16, 4, 4, 16, stride_h=2, stride_w=2))  # 1x1 strided
    for c_in, c_out, hw in ((8, 8, 8), (16, 8, 8), (32, 8, 8), (8, 16, 8), (8, 32, 8), (8, 8, 4), (8, 8, 16)):
        layers.append(Layer("conv", s, 1, hw, hw, c_in, hw, hw, c_out, 3, 3, pad_h=1, pad_w=1))  # 3x3 SAME
    layers.append(Layer("conv", s, 1, 8, 8, 8, 6, 6, 8, 3, 3))  # 3x3 VALID: no padding
    # An odd filter count and an odd pixel count with columns left over after steps of 4 (3x3x3 = 27).
    layers.append(Layer("conv", s, 1, 5, 5, 3, 5, 5, 7, 3, 3, pad_h=1, pad_w=1))
    layers.append(Layer("conv", s, 1, 8, 8, 16, 8, 8, 7))  # 1x1: an odd filter row
    for w_out, c in ((16, 8), (32, 8), (16, 16)):  # 1xN, input of one row
        layers.append(Layer("conv", s, 1, 1, w_out + 2, c, 1, w_out, 8, 1, 3))
    for c in (8, 16, 32, 64):  # depthwise 3x3: channels
        layers.append(Layer("depthwise", s, 1, 8, 8, c, 8, 8, c, 3, 3, pad_h=1, pad_w=1))
    for hw in (4, 16):  # depthwise 3x3: pixels
        layers.append(Layer("depthwise", s, 1, hw, hw, 16, hw, hw, 16, 3, 3, pad_h=1, pad_w=1))
    for k in (5, 7):  # depthwise, other kernel sizes (the opt path)
        layers.append(Layer("depthwise", s, 1, 8, 8, 16, 8, 8, 16, k, k, pad_h=k // 2, pad_w=k // 2))
    layers.append(Layer("depthwise", s, 1, 8, 8, 8, 8, 8, 16, 3, 3, pad_h=1, pad_w=1))  # channel multiplier 2
    for depth, units in ((64, 16), (128, 16), (256, 16), (128, 8), (128, 32)):
        layers.append(Layer("fc", s, in_c=depth, out_c=units))
    layers.append(Layer("fc", s, n=4, in_c=128, out_c=16))
    for depth, units in ((39, 11), (130, 15)):  # values left over after steps of 4, an odd unit
        layers.append(Layer("fc", s, in_c=depth, out_c=units))
    for elements in (63, 64, 256, 1024):
        layers.append(Layer("add", s, in_c=elements, out_c=elements))
    for hw, c in ((4, 16), (8, 16), (4, 64)):  # global average pool
        layers.append(Layer("avgpool", s, 1, hw, hw, c, 1, 1, c, hw, hw, hw, hw))
    layers.append(Layer("avgpool", s, 1, 8, 8, 16, 4, 4, 16, 2, 2, 2, 2))
    for row in (2, 10, 12, 100):
        layers.append(Layer("softmax", s, in_c=row, out_c=row))
    layers.append(Layer("softmax", s, n=4, in_c=12, out_c=12))
    return layers


def reference_layers(data: Path, max_macs: int) -> list[Layer]:
    """The covered layers of the MLPerf Tiny reference models (the zoo stand-ins for missing files),
    scaled down above `max_macs`, without repeats of one shape."""
    from tinyinterp import zoo
    from tinyinterp.model.reader import load_model

    seen: set[str] = set()
    layers = []
    for name, file in REFERENCE_MODELS.items():
        path = data / "models" / file
        model = load_model(path.read_bytes()) if path.is_file() else zoo.stand_in(name)
        for layer in model_layers(name, model):
            layer = scaled(layer, max_macs)
            if layer.key() not in seen:
                seen.add(layer.key())
                layers.append(layer)
    return layers


# --- the emulator ------------------------------------------------------------------------------------------

JOB_FIELDS = (
    "kernel", "status",
    "input_n", "input_h", "input_w", "input_c", "filter_n", "filter_h", "filter_w", "filter_c",
    "bias_n", "bias_h", "bias_w", "bias_c", "output_n", "output_h", "output_w", "output_c",
    "stride_w", "stride_h", "pad_w", "pad_h", "dilation_w", "dilation_h", "ch_mult",
    "input_offset", "filter_offset", "output_offset", "act_min", "act_max",
    "input2_offset", "input_mult", "input_shift", "input2_mult", "input2_shift", "left_shift",
    "output_mult", "output_shift", "diff_min",
    "input_data", "input2_data", "filter_data", "bias_data", "multipliers", "shifts", "output_data",
    "scratch", "scratch_size",
)  # fmt: skip


@dataclass(frozen=True)
class Operands:
    """The job fields and the bytes placed in each region for one kernel call."""

    fields: dict[str, int]
    placed: tuple[tuple[int, bytes], ...]


def operands(layer: Layer, kernel: str, regions: Sequence[Region] = REGIONS, seed: int = 0) -> Operands:
    """Seeded random data with TFLM-like quantization parameters, each operand in its region (input 2 of ADD
    half-way through the input region)."""
    region = {r.name: r for r in regions}
    input2 = region["act_in"].base + region["act_in"].size // 2
    rng = np.random.default_rng(seed)
    in_elems = layer.n * layer.in_h * layer.in_w * layer.in_c
    out_elems = layer.n * layer.out_h * layer.out_w * layer.out_c
    if layer.op == "conv":
        weights = layer.out_c * layer.k_h * layer.k_w * layer.in_c
        filter_dims = (layer.out_c, layer.k_h, layer.k_w, layer.in_c)
    elif layer.op == "depthwise":
        weights = layer.k_h * layer.k_w * layer.out_c
        filter_dims = (1, layer.k_h, layer.k_w, layer.out_c)
    elif layer.op == "fc":
        weights, filter_dims = layer.in_c * layer.out_c, (layer.in_c, 1, 1, layer.out_c)
    else:
        weights, filter_dims = 0, (1, layer.k_h, layer.k_w, 1)
    channels = layer.out_c
    fields = dict.fromkeys(JOB_FIELDS, 0)
    fields.update(
        kernel=KERNEL_IDS.index(kernel),
        input_n=layer.n, input_h=layer.in_h, input_w=layer.in_w, input_c=layer.in_c,
        filter_n=filter_dims[0], filter_h=filter_dims[1], filter_w=filter_dims[2], filter_c=filter_dims[3],
        bias_n=1, bias_h=1, bias_w=1, bias_c=channels,
        output_n=layer.n, output_h=layer.out_h, output_w=layer.out_w, output_c=layer.out_c,
        stride_w=layer.stride_w, stride_h=layer.stride_h, pad_w=layer.pad_w, pad_h=layer.pad_h,
        dilation_w=1, dilation_h=1, ch_mult=max(1, layer.out_c // layer.in_c),
        input_offset=128, filter_offset=0, output_offset=-5, act_min=-128, act_max=127,
        input2_offset=128, input_mult=1 << 30, input_shift=-1, input2_mult=1 << 30, input2_shift=-1,
        left_shift=20, output_mult=1_500_000_000, output_shift=-8, diff_min=-248,
    )  # fmt: skip
    if layer.op == "softmax":  # TFLM's parameters of a softmax with beta 1 and input scale 1/16
        fields.update(input_mult=1_073_741_824, input_shift=23, diff_min=-248)
    bias_at = region["bias_quant"].base
    mult_at, shift_at = bias_at + 4 * channels, bias_at + 8 * channels
    fields.update(
        input_data=region["act_in"].base, input2_data=input2, filter_data=region["weights"].base,
        bias_data=bias_at, multipliers=mult_at, shifts=shift_at, output_data=region["act_out"].base,
        scratch=region["scratch"].base,
    )  # fmt: skip
    if in_elems > input2 - region["act_in"].base or out_elems > region["act_out"].size:
        raise ExecutedCountsError(f"{layer.key()}: activations larger than the emulated regions")
    placed = [
        (region["act_in"].base, rng.integers(-128, 128, in_elems, dtype=np.int8).tobytes()),
        (region["weights"].base, rng.integers(-127, 128, weights, dtype=np.int8).tobytes()),
        (bias_at, rng.integers(-1000, 1000, channels, dtype=np.int32).tobytes()),
        (mult_at, rng.integers(1 << 30, (1 << 31) - 1, channels, dtype=np.int32).tobytes()),
        (shift_at, rng.integers(-9, -5, channels, dtype=np.int32).tobytes()),
    ]
    if layer.op == "add":
        placed.append((input2, rng.integers(-128, 128, in_elems, dtype=np.int8).tobytes()))
    return Operands(fields, tuple(placed))


@dataclass
class Counts:
    """What one kernel call executed."""

    instructions: dict[str, int]
    memory: dict[str, dict[str, int]]
    functions: dict[str, dict[str, int]]  # name -> entries, instructions
    scratch_bytes: int | None  # None where the emulator cannot read it back (qemu)


def job_bytes(call: Operands) -> bytes:
    return b"".join(struct.pack("<I", call.fields[f] & 0xFFFFFFFF) for f in JOB_FIELDS)


def tally_blocks(
    blocks: dict[tuple[int, int], int], classes: Any, firmware: Firmware
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Instructions by class and per function from the executions of each block (address, size).

    `classes(block)` gives the block's instructions by class. Entries count executions of a function's first
    block; harness_run's own instructions (the dispatch to the kernel) are left out.
    """
    instructions = dict.fromkeys(CLASSES, 0)
    functions: dict[str, dict[str, int]] = {}
    for block, hits in sorted(blocks.items()):
        function = firmware.function_at(block[0])
        name = function.name if function else f"0x{block[0]:08x}"
        if name == "harness_run":
            continue
        per_function = functions.setdefault(name, {"entries": 0, "instructions": 0})
        if function and function.address == block[0]:
            per_function["entries"] += hits
        counts = classes(block)
        for kind, n in counts.items():
            instructions[kind] += n * hits
        per_function["instructions"] += sum(counts.values()) * hits
    instructions["total"] = sum(instructions.values())
    return instructions, functions


class Emulator:
    """The harness firmware under unicorn: prepare (not counted), then one counted kernel call."""

    def __init__(self, firmware: Firmware, target: Target) -> None:
        import capstone
        import unicorn
        from unicorn import arm_const

        self.firmware, self.regions = firmware, target.regions
        self.job = firmware.job_address()
        self._unicorn = unicorn
        self.disassembler = capstone.Cs(
            capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS
        )
        self.uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
        self.uc.ctl_set_cpu_model(getattr(arm_const, target.emulator))
        for region in self.regions:
            self.uc.mem_map(region.base, region.size)
        stack = next(r for r in self.regions if r.name == "stack")
        self._stack_top = stack.base + stack.size - 8
        self._scratch = next(r for r in self.regions if r.name == "scratch")
        self._pc, self._sp, self._lr = (
            arm_const.UC_ARM_REG_PC,
            arm_const.UC_ARM_REG_SP,
            arm_const.UC_ARM_REG_LR,
        )
        self.counting = False
        self.blocks: dict[tuple[int, int], int] = {}
        self.tally = MemoryTally(self.regions)
        self._block_classes: dict[tuple[int, int], dict[str, int]] = {}
        self.uc.hook_add(unicorn.UC_HOOK_BLOCK, self._on_block)
        self.uc.hook_add(unicorn.UC_HOOK_MEM_READ | unicorn.UC_HOOK_MEM_WRITE, self._on_memory)

    def _on_block(self, uc: Any, address: int, size: int, _: Any) -> None:
        if self.counting:
            key = (address, size)
            self.blocks[key] = self.blocks.get(key, 0) + 1

    def _on_memory(self, uc: Any, access: int, address: int, size: int, value: int, _: Any) -> None:
        if self.counting:
            self.tally.record(address, size, access == self._unicorn.UC_MEM_WRITE)

    def _reset(self) -> None:
        for region in self.regions:
            self.uc.mem_write(region.base, bytes(region.size))
        for base, data, _ in self.firmware.segments:
            self.uc.mem_write(base, data)

    def _call(self, function: str) -> None:
        done = self.firmware.function("harness_done").address
        self.uc.reg_write(self._sp, self._stack_top)
        self.uc.reg_write(self._lr, done | 1)
        try:
            self.uc.emu_start(self.firmware.function(function).address | 1, done, count=2_000_000_000)
        except self._unicorn.UcError as error:
            pc = self.uc.reg_read(self._pc)
            where = self.firmware.function_at(pc)
            raise ExecutedCountsError(
                f"{function}: emulation stopped at 0x{pc:08x} ({where.name if where else '?'}): {error}"
            ) from None

    def _field(self, name: str) -> int:
        raw = self.uc.mem_read(self.job + 4 * JOB_FIELDS.index(name), 4)
        return int.from_bytes(raw, "little", signed=True)

    def run(self, call: Operands) -> Counts:
        self._reset()
        self.uc.mem_write(self.job, job_bytes(call))
        for address, data in call.placed:
            self.uc.mem_write(address, data)
        self._call("harness_prepare")
        if self._field("scratch_size") > self._scratch.size:
            raise ExecutedCountsError(
                f"scratch buffer of {self._field('scratch_size')} bytes exceeds its region"
            )
        self.blocks, self.tally = {}, MemoryTally(self.regions)
        self.counting = True
        try:
            self._call("harness_run")
        finally:
            self.counting = False
        if self._field("status") != 0:
            raise ExecutedCountsError(f"the kernel returned status {self._field('status')}")
        instructions, functions = tally_blocks(self.blocks, self._classes, self.firmware)
        return Counts(instructions, self.tally.as_dict(), functions, self._field("scratch_size"))

    def _classes(self, block: tuple[int, int]) -> dict[str, int]:
        if block not in self._block_classes:
            address, size = block
            counts = dict.fromkeys(CLASSES, 0)
            for insn in self.disassembler.disasm(bytes(self.uc.mem_read(address, size)), address):
                counts[instruction_class(insn.mnemonic)] += 1
            self._block_classes[block] = counts
        return self._block_classes[block]


_TRACE_PC = re.compile(rb"\[[0-9a-f]+/([0-9a-f]+)/")
_OBJDUMP_LINE = re.compile(r"^\s*([0-9a-f]+):\s+([a-z][\w.]*)")


class QemuEmulator:
    """The harness firmware on qemu-system-arm's mps3-an547 (Cortex-M55 with MVE).

    One instruction per translation block, each execution logged (-d exec,nochain) and classified from
    objdump's disassembly (capstone has no MVE). Memory accesses are not counted: that needs a qemu built
    with TCG plugins."""

    def __init__(self, firmware: Firmware, elf: Path, gcc: str) -> None:
        qemu = shutil.which("qemu-system-arm")
        if qemu is None:
            raise ExecutedCountsError("qemu-system-arm not found: apt-get install qemu-system-arm")
        self.qemu, self.elf, self.firmware = qemu, elf, firmware
        self.job = firmware.job_address()
        # Without -m, binutils 2.40 decodes MVE loads as coprocessor instructions and CSEL/CSNEG as undefined.
        objdump = [gcc.replace("gcc", "objdump"), "-d", "--no-show-raw-insn", "-m", "armv8.1-m.main"]
        listing = _tool_output([*objdump, str(elf)])
        self.classes: dict[int, str] = {}
        for line in listing.splitlines():
            match = _OBJDUMP_LINE.match(line)
            if match:
                self.classes[int(match.group(1), 16)] = instruction_class(match.group(2))

    def run(self, call: Operands) -> Counts:
        with tempfile.TemporaryDirectory(prefix="executed-counts-") as folder:
            loaders = []
            for i, (address, data) in enumerate((*call.placed, (self.job, job_bytes(call)))):
                if data:
                    blob = Path(folder) / f"{i}.bin"
                    blob.write_bytes(data)
                    loaders += ["-device", f"loader,file={blob},addr=0x{address:x}"]
            log = Path(folder) / "exec.log"
            command = [
                "nice", self.qemu, "-M", "mps3-an547", "-nographic", "-monitor", "none", "-serial", "none",
                "-semihosting-config", "enable=on,target=native", "-kernel", str(self.elf), *loaders,
                "-singlestep", "-d", "exec,nochain", "-D", str(log),
            ]  # fmt: skip
            try:
                result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
            except subprocess.TimeoutExpired:
                raise ExecutedCountsError("qemu-system-arm ran for more than 15 minutes") from None
            if result.returncode != 0:
                reason = (result.stderr.strip().splitlines() or ["the kernel returned a non-zero status"])[0]
                raise ExecutedCountsError(f"qemu-system-arm exited with {result.returncode}: {reason}")
            executions = self._kernel_executions(log)
        blocks = {(pc, 0): hits for pc, hits in executions.items()}
        instructions, functions = tally_blocks(blocks, self._classes, self.firmware)
        return Counts(instructions, {}, functions, None)

    def _classes(self, block: tuple[int, int]) -> dict[str, int]:
        kind = self.classes.get(block[0])
        if kind is None:
            raise ExecutedCountsError(f"executed 0x{block[0]:08x} is not in the firmware's disassembly")
        return {kind: 1}

    def _kernel_executions(self, log: Path) -> dict[int, int]:
        """Executions per instruction address from harness_run's entry until it returns to reset_handler."""
        start, caller = self.firmware.function("harness_run"), self.firmware.function("reset_handler")
        executions: dict[int, int] = {}
        counting = False
        with log.open("rb") as lines:
            for line in lines:
                match = _TRACE_PC.search(line)
                if match is None:
                    continue
                pc = int(match.group(1), 16)
                if not counting:
                    counting = pc == start.address
                elif caller.address <= pc < caller.address + caller.size:
                    return executions
                if counting:
                    executions[pc] = executions.get(pc, 0) + 1
        raise ExecutedCountsError(f"{log}: the trace has no complete harness_run call")


# --- the records -------------------------------------------------------------------------------------------


@dataclass
class Record:
    function: str
    path: str
    selected: str  # the kernel the function ran (itself, or the wrapper's choice)
    layer: Layer
    macs: int
    counts: Counts

    def as_dict(self) -> dict[str, Any]:
        shape = {k: v for k, v in asdict(self.layer).items() if k not in ("op", "source")}
        return {
            "function": self.function,
            "path": self.path,
            "selected": self.selected,
            "op": self.layer.op,
            "source": self.layer.source,
            "shape": shape,
            "macs": self.macs,
            "instructions": self.counts.instructions,
            "memory": self.counts.memory,
            "functions": self.counts.functions,
            "scratch_bytes": self.counts.scratch_bytes,
        }


def selected_kernel(function: str, counts: Counts) -> str:
    entered = [k for k in WRAPPED.get(function, ()) if counts.functions.get(k, {}).get("entries")]
    return entered[0] if entered else function


def measure(
    emulator: Emulator | QemuEmulator, layers: Iterable[Layer], target: Target, only: str | None
) -> Iterator[Record]:
    for layer in layers:
        for kernel in kernels_for(layer, target):
            if only and only not in kernel:
                continue
            try:
                counts = emulator.run(operands(layer, kernel, target.regions))
            except ExecutedCountsError as error:
                raise ExecutedCountsError(f"{kernel} on {layer.source} ({layer.key()}): {error}") from None
            yield Record(kernel, target.path, selected_kernel(kernel, counts), layer, layer.macs, counts)


def versions(gcc: str, cmsis_nn: Path, target: Target) -> dict[str, Any]:
    import capstone
    import unicorn

    found = {
        "cmsis_nn": cmsis_nn_identity(cmsis_nn),
        "compiler": _tool_output([gcc, "--version"]).splitlines()[0],
        "cflags": [*target.cflags, "-ffunction-sections", "-fdata-sections"],
        "libc": "newlib-nano (-specs=nano.specs)",
    }
    if target.emulator == "qemu":
        qemu = _tool_output(["qemu-system-arm", "--version"]).splitlines()[0]
        objdump = _tool_output([gcc.replace("gcc", "objdump"), "--version"]).splitlines()[0]
        return found | {
            "emulator": f"{qemu} (-M mps3-an547 -singlestep -d exec,nochain)",
            "disassembler": objdump,
        }
    return found | {
        "emulator": f"unicorn {unicorn.__version__} ({target.emulator})",
        "disassembler": f"capstone {capstone.__version__}",
    }


def document(records: Sequence[Record], target: Target, tool_versions: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": (
            "Executed instructions by class and data memory accesses by region of CMSIS-NN int8 kernel calls "
            "under an instruction-level emulator; written by bench/executed_counts.py --write "
            "(see its docstring)."
        ),
        "core": target.core,
        "path": target.path,
        "versions": tool_versions,
        "classes": {
            "alu": "data processing, moves, extends, packs, saturation, SIMD add/sub (SADD16, SXTB16, SSAT)",
            "mul": "multiply, multiply-accumulate and divide (MUL, MLA, SMLABB, SMULL, SMLAL, SDIV, ...)",
            "simd_mac": "dual 16-bit multiply(-accumulate) (SMLAD, SMLADX, SMLALD, SMUAD, SMLSD, ...)",
            "load": "LDR*, LDM, POP",
            "store": "STR*, STM, PUSH",
            "branch": "B, BL, BX, CBZ/CBNZ, TBB/TBH, conditional branches (taken or not)",
            "other": "IT, NOP, barriers, loop setup",
            "vector": "MVE and FP instructions (none on these targets)",
        },
        "regions": {r.name: f"0x{r.base:08x}" for r in target.regions},
        "note": (
            "instructions exclude the harness's dispatch; "
            + (
                "memory accesses are not counted (qemu without TCG plugins), nor the scratch size; "
                if target.emulator == "qemu"
                else "memory counts every data access of the call (a LDRD or LDM once per word); "
            )
            + "'functions' gives entries into and instructions of each function; shapes with scaled_from "
            "have fewer output rows than the model's layer (scaled_from: its input and output rows)"
        ),
        "records": [r.as_dict() for r in records],
    }


# --- printing and the comparison with tinyinterp.cost ------------------------------------------------------

SHORT = {"arm_convolve_": "conv_", "arm_depthwise_conv_": "dw_", "arm_fully_connected_": "fc_", "arm_": ""}


def short(name: str) -> str:
    for long, abbreviation in SHORT.items():
        if name.startswith(long):
            return abbreviation + name[len(long) :]
    return name


# Memory columns of the table: (heading, region, access fields summed).
MEMORY_COLUMNS = (
    ("w rd B", "weights", ("read_bytes",)),
    ("in rd B", "act_in", ("read_bytes",)),
    ("out wr B", "act_out", ("write_bytes",)),
    ("scr r+w", "scratch", ("reads", "writes")),
    ("stk r+w", "stack", ("reads", "writes")),
)


def _memory_cell(memory: dict[str, dict[str, int]], region: str, fields: Sequence[str]) -> str:
    if not memory:  # not counted (qemu)
        return "-"
    return str(sum(memory.get(region, {}).get(f, 0) for f in fields))


def print_table(records: Sequence[Record]) -> None:
    print(
        f"{'function':20} {'selected':18} {'shape':46} {'MACs':>8} {'instr':>9} {'/MAC':>5} "
        + " ".join(f"{c[:6]:>7}" for c in CLASSES)
        + "".join(f" {heading:>8}" for heading, _, _ in MEMORY_COLUMNS)
    )
    for r in records:
        i = r.counts.instructions
        per_mac = f"{i['total'] / r.macs:5.2f}" if r.macs else "    -"
        print(
            f"{short(r.function):20} {short(r.selected):18} {r.layer.key()[:46]:46} {r.macs:8d} "
            f"{i['total']:9d} {per_mac} "
            + " ".join(f"{i[c]:7d}" for c in CLASSES)
            + "".join(f" {_memory_cell(r.counts.memory, region, f):>8}" for _, region, f in MEMORY_COLUMNS)
        )


def one_layer_model(layer: Layer) -> Any:
    """A model of just this layer, to ask tinyinterp.cost what it predicts for it."""
    from tinyinterp.model.builder import ModelBuilder

    q = {"scale": 0.05, "zero_point": -128}
    b = ModelBuilder()
    rng = np.random.default_rng(0)
    if layer.op in ("fc", "add", "softmax"):
        x = b.input("x", (layer.n, layer.in_c), "int8", **q)
        y = b.tensor("y", (layer.n, layer.out_c), "int8", **q)
    else:
        x = b.input("x", (layer.n, layer.in_h, layer.in_w, layer.in_c), "int8", **q)
        y = b.tensor("y", (layer.n, layer.out_h, layer.out_w, layer.out_c), "int8", **q)
    window = {
        "stride_h": layer.stride_h,
        "stride_w": layer.stride_w,
        "padding": "SAME" if layer.pad_h or layer.pad_w else "VALID",
    }
    if layer.op == "conv":
        w = b.constant("w", rng.integers(-127, 128, (layer.out_c, layer.k_h, layer.k_w, layer.in_c)), "int8",
                       scale=[0.01] * layer.out_c, zero_point=0)  # fmt: skip
        b.op("CONV_2D", [x, w, -1], [y], **window)
    elif layer.op == "depthwise":
        w = b.constant("w", rng.integers(-127, 128, (1, layer.k_h, layer.k_w, layer.out_c)), "int8",
                       scale=[0.01] * layer.out_c, zero_point=0, quantized_dimension=3)  # fmt: skip
        b.op("DEPTHWISE_CONV_2D", [x, w, -1], [y], depth_multiplier=layer.out_c // layer.in_c, **window)
    elif layer.op == "fc":
        w = b.constant(
            "w", rng.integers(-127, 128, (layer.out_c, layer.in_c)), "int8", scale=0.01, zero_point=0
        )
        b.op("FULLY_CONNECTED", [x, w, -1], [y])
    elif layer.op == "add":
        x2 = b.input("x2", (layer.n, layer.in_c), "int8", **q)
        b.op("ADD", [x, x2], [y])
    elif layer.op == "avgpool":
        b.op("AVERAGE_POOL_2D", [x], [y], filter_height=layer.k_h, filter_width=layer.k_w, **window)
    else:
        b.op("SOFTMAX", [x], [y], beta=1.0)
    b.output(y)
    return b.build()


def print_comparison(records: Sequence[Record], core_name: str) -> None:
    """Per call TFLM makes (wrappers and single-kernel ops): executed cycles next to tinyinterp.cost's."""
    from tinyinterp.cost import estimate, profiles
    from tinyinterp.cost.estimate import KERNEL_TERMS, layers_work

    core = profiles.core(core_name)
    board = profiles.generic_board(core_name, 100.0)
    stack = profiles.stack("tflm-cmsisnn")
    print(
        f"\n{core_name}: executed cycles (instructions x {core_name}.toml costs per class) against "
        "tinyinterp.cost: model = its kernel terms mac+data+requant before stack factors, estimate = its "
        "tflm-cmsisnn layer cycles (with efficiency and overhead) at 100 MHz"
    )
    print(
        f"{'selected (executed)':22} {'model kernel':26} {'shape':46} {'executed':>10} {'model':>10} "
        f"{'m/e':>6} {'estimate':>10} {'est/e':>6}"
    )
    specialised = {kernel for kernels in WRAPPED.values() for kernel in kernels}
    ratios: dict[str, list[float]] = {}
    for r in records:
        if r.function in specialised:
            continue  # TFLM calls the wrappers; the direct calls are in the table above
        model = one_layer_model(r.layer)
        work = layers_work(model, core, board, 100.0, stack.kernels)[0]
        modelled = sum(work.terms.get(t, 0.0) for t in KERNEL_TERMS)
        layer = estimate(model, core=core_name, clock_mhz=100.0).layers[0]
        executed = price({c: r.counts.instructions[c] for c in CLASSES}, core)
        ratios.setdefault(r.selected, []).append(modelled / executed)
        flag = "" if work.kernel == r.selected else "  (kernel differs)"
        print(
            f"{short(r.selected):22} {short(work.kernel):26} {r.layer.key()[:46]:46} {executed:10.0f} "
            f"{modelled:10.0f} {modelled / executed:6.2f} {layer.cycles:10.0f} "
            f"{layer.cycles / executed:6.2f}{flag}"
        )
    print("\nmodel / executed by kernel: geometric mean [min, max]")
    for kernel, values in sorted(ratios.items()):
        mean = math.exp(sum(math.log(v) for v in values) / len(values))
        spread = f"[{min(values):.2f}, {max(values):.2f}]"
        print(f"  {short(kernel):24} {mean:5.2f} {spread} over {len(values)} shapes")


# --- command line ------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cmsis-nn", type=Path, required=True, help="a CMSIS-NN checkout (git clone)")
    parser.add_argument("--core", choices=sorted(TARGETS), default="cortex-m4")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "mlperf-tiny")
    parser.add_argument("--build-dir", type=Path, help="object files (default: a folder under the temp dir)")
    parser.add_argument("--max-macs", type=int, default=300_000, help="scale down layers above this")
    parser.add_argument("--only", help="only kernel functions whose name contains this")
    parser.add_argument("--no-models", action="store_true", help="synthetic shapes only")
    parser.add_argument("--write", action="store_true", help="write bench/data/executed_counts_<core>.json")
    parser.add_argument("--compare", action="store_true", help="print executed against tinyinterp.cost")
    return parser.parse_args(argv)


def output_path(target: Target) -> Path:
    return DATA / f"executed_counts_{target.core.removeprefix('cortex-')}.json"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import capstone  # noqa: F401
        import unicorn  # noqa: F401
    except ImportError:
        print("error: needs unicorn and capstone: pip install unicorn capstone", file=sys.stderr)
        return 2
    target = TARGETS[args.core]
    try:
        cmsis_nn = check_cmsis_nn(args.cmsis_nn)
        gcc = ensure_toolchain()
        key = hashlib.sha256(f"{cmsis_nn}{target}".encode()).hexdigest()[:12]
        build_dir = args.build_dir or Path(tempfile.gettempdir()) / f"tinyinterp-executed-{key}"
        elf = build(gcc, cmsis_nn, target, build_dir)
        firmware = read_firmware(elf, gcc)
        emulator = (
            QemuEmulator(firmware, elf, gcc) if target.emulator == "qemu" else Emulator(firmware, target)
        )
        layers = ([] if args.no_models else reference_layers(args.data, args.max_macs)) + synthetic_layers()
        records = list(measure(emulator, layers, target, args.only))
    except TinyInterpError as error:  # ours, or an unreadable reference model
        print(f"error: {error}", file=sys.stderr)
        return 2
    print_table(records)
    if args.compare:
        print_comparison(records, target.core)
    if args.write:
        path = output_path(target)
        path.write_text(
            json.dumps(document(records, target, versions(gcc, cmsis_nn, target)), indent=1) + "\n"
        )
        print(f"wrote {path.relative_to(ROOT)} ({len(records)} records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
