"""An sww01 stream end to end: a wav as the interface board plays it, the DUT's features, model and
detections (`specs/sww01.md` sections 1-4).

`stream_wav` is the one entry point: given a wav and the model, per-frame int8 features, model outputs
and the frames that pulse the detection pin.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyinterp.errors import TinyInterpError
from tinyinterp.interpreter import Interpreter
from tinyinterp.suite.sww.detection import detected_frames
from tinyinterp.suite.sww.frontend import BLOCK_FRAMES, HOP, MEL_FILTERS, SAMPLE_RATE, Tables, features

WINDOW_FRAMES = 30  # rows of g_model_input (SWW_MODEL_INPUT_SIZE 1200 = 30 x 40)
HEADER_BYTES = 44  # canonical RIFF header: the board's WaveSource::Open reads exactly this layout
CHANNELS = 2  # the board plays 2-channel files only; the DUT keeps slot 0
BOARD_BLOCK_BYTES = 4096  # half of the board's circular DMA buffer
FRONT_END_CONTEXT = 2  # chunks a block's front end starts early (see stream_blocks)


class WavError(TinyInterpError):
    """A wav file the interface board would refuse (not canonical 16 kHz 16-bit 2-channel PCM)."""


@dataclass(frozen=True)
class Wav:
    path: Path
    samples: np.ndarray  # int16 channel 0
    data_bytes: int  # size of the data chunk

    @property
    def played_chunks(self) -> int:
        """Chunks the DUT completes: the board stops when a refill of its 4096-byte blocks reads nothing,
        while the last block has just started, so that block never reaches the DUT (spec 1.2, inferred)."""
        blocks = math.ceil(self.data_bytes / BOARD_BLOCK_BYTES)
        return max(0, (blocks - 1) * BOARD_BLOCK_BYTES // (2 * CHANNELS) // HOP)

    @property
    def duration_s(self) -> float:
        return self.data_bytes / (2 * CHANNELS * SAMPLE_RATE)

    def chunks(self, all_chunks: bool = False) -> np.ndarray:
        """The samples of the chunks the DUT processes (with `all_chunks`: every whole chunk of the file)."""
        count = len(self.samples) // HOP if all_chunks else self.played_chunks
        if count == 0:
            raise WavError(
                f"{self.path}: {len(self.samples)} samples: the DUT would process no {HOP}-sample chunk"
            )
        return self.samples[: count * HOP]


def read_wav(path: Path) -> Wav:
    """Channel 0 of a canonical 16 kHz, 16-bit, 2-channel PCM wav, as the interface board reads it."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise WavError(f"{path}: cannot read wav: {error.strerror}") from None
    header = data[:HEADER_BYTES]
    if len(header) < HEADER_BYTES or header[:4] != b"RIFF" or header[8:16] != b"WAVEfmt ":
        raise WavError(f"{path}: not a RIFF/WAVE file with its fmt chunk first")
    fmt_size, audio_format, channels, rate = np.frombuffer(header[16:28], "<u4,<u2,<u2,<u4")[0]
    bits = int(np.frombuffer(header[34:36], "<u2")[0])
    found = (int(fmt_size), int(audio_format), int(channels), int(rate), bits, header[36:40])
    expected = (16, 1, CHANNELS, SAMPLE_RATE, 16, b"data")
    if found != expected:
        raise WavError(
            f"{path}: fmt chunk size, format, channels, rate, bits, next chunk {found}; the interface board "
            f"plays {expected} only"
        )
    size = int(np.frombuffer(header[40:44], "<u4")[0])
    body = data[HEADER_BYTES : HEADER_BYTES + size]
    frames = len(body) // (2 * CHANNELS)
    samples = np.frombuffer(body[: frames * 2 * CHANNELS], "<i2").reshape(frames, CHANNELS)[:, 0]
    return Wav(path, samples.copy(), len(body))


def model_windows(feature_rows: np.ndarray) -> np.ndarray:
    """int8 model inputs [frames, 30, 1, 40]: after frame k the last 30 feature rows, newest last, the
    rows before the stream int8 0 (`g_model_input` is memset to 0 by `start`)."""
    padded = np.concatenate([np.zeros((WINDOW_FRAMES - 1, MEL_FILTERS), np.int8), feature_rows])
    windows = np.lib.stride_tricks.sliding_window_view(padded, (WINDOW_FRAMES, MEL_FILTERS))[:, 0]
    return windows.reshape(len(feature_rows), WINDOW_FRAMES, 1, MEL_FILTERS)


@dataclass(frozen=True)
class StreamResult:
    features: np.ndarray  # int8 [frames, 40]
    outputs: np.ndarray  # int8 [frames, 3]
    detections: np.ndarray  # frame indices that pulse WW_DETECTED (frame 0: the sync pulse)


def stream_samples(
    samples: np.ndarray,
    interpreter: Interpreter,
    tables: Tables | None = None,
) -> StreamResult:
    """The DUT on int16 mono samples (whole 512-sample chunks): features, outputs and detections."""
    if len(samples) < HOP:
        raise WavError(f"{len(samples)} samples: the DUT would process no {HOP}-sample chunk")
    blocks = list(stream_blocks(samples, interpreter, tables))
    return StreamResult(
        np.concatenate([b.features for b in blocks]),
        np.concatenate([b.outputs for b in blocks]),
        np.concatenate([b.detections for b in blocks]),
    )


def stream_blocks(
    samples: np.ndarray,
    interpreter: Interpreter,
    tables: Tables | None = None,
    block_frames: int = BLOCK_FRAMES,
) -> Iterator[StreamResult]:
    """`stream_samples` block by block of `block_frames` frames, in memory bounded by the block: each
    block's features, outputs and detections (frame indices of the whole stream).

    A block starts its front end two chunks early and drops their rows: the first frame of a front-end
    run starts with zeros, the second pre-emphasises its first sample against that zero, the third is
    the stream's own. Its model windows start with the previous block's last 29 feature rows."""
    scale = _input_scale(interpreter)
    chunks = len(samples) // HOP
    history = np.zeros((WINDOW_FRAMES - 1, MEL_FILTERS), np.int8)
    for first in range(0, chunks, block_frames):
        skipped = min(first, FRONT_END_CONTEXT)
        end = min(first + block_frames, chunks)
        rows = features(samples[(first - skipped) * HOP : end * HOP], scale, tables)[skipped:]
        windows = model_windows(np.concatenate([history, rows]))[WINDOW_FRAMES - 1 :]
        outputs = interpreter.run(windows)[0].reshape(len(rows), -1)
        yield StreamResult(rows, outputs, detected_frames(outputs, sync=first == 0) + first)
        history = np.concatenate([history, rows])[-(WINDOW_FRAMES - 1) :]


def _input_scale(interpreter: Interpreter) -> float:
    detail = interpreter.get_input_details()[0]
    if tuple(detail["shape"]) != (1, WINDOW_FRAMES, 1, MEL_FILTERS) or detail["dtype"] is not np.int8:
        raise TinyInterpError(
            f"the sww01 firmware feeds int8 [1, {WINDOW_FRAMES}, 1, {MEL_FILTERS}]; the model's input is "
            f"{np.dtype(detail['dtype']).name} {[int(size) for size in detail['shape']]}"
        )
    return detail["quantization"][0]


def stream_wav(
    path: Path,
    interpreter: Interpreter,
    tables: Tables | None = None,
    all_chunks: bool = False,
) -> StreamResult:
    """The DUT after `start` (fresh boot) while the board plays `path`: the chunks the board delivers,
    or with `all_chunks` every whole chunk of the file."""
    return stream_samples(read_wav(path).chunks(all_chunks), interpreter, tables)
