"""sww01 front end, detections and scoring against the spec (`specs/sww01.md`, Appendix B) and the
upstream firmware tables."""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tinyinterp.errors import TinyInterpError
from tinyinterp.interpreter import Interpreter
from tinyinterp.suite.sww import frontend, read_wav, stream_wav
from tinyinterp.suite.sww.detection import (
    board_timestamps,
    detected_frames,
    read_test,
    score_detections,
)
from tinyinterp.suite.sww.frontend import (
    HOP,
    _hertz_to_mel,
    features,
    frames_of,
    generated_tables,
    load_tables,
    mel_energies,
    mel_matrix,
    power_spectrum,
    quantize,
)
from tinyinterp.suite.sww.stream import WavError, stream_blocks, stream_samples

SHORT, MARVIN = "short_wav_easy10s.wav", "marvin_617de221_0.wav"
# Appendix B: sha256 of the int8 features and outputs over every whole chunk of each file.
APPENDIX_B = {
    SHORT: (
        "242f694c6897fd33bd82883e0cbcb3df092605d807bcf9e6f3c041f2cc185e51",
        "908e4de6c36d1884a2152136d48b9a6c347c0f43ffe457a4172b5548bfe0326b",
    ),
    MARVIN: (
        "dab0c5691d1e3bd5ca8cf55ce05c7e5debd8a9eb43926c0b2972a1d366f3092c",
        "ec74dc51579f46a3c84a29bda0e93f06fa8a16fde274356aa8feedcf6a5ad480",
    ),
}
INPUT_SCALE = 0.003701042616739869


@pytest.fixture(scope="module")
def interpreter(data_dir: Path) -> Interpreter:
    model = Interpreter(model_path=str(data_dir / "models" / "str_ww_ref_model.tflite"))
    model.allocate_tensors()
    return model


@pytest.fixture(scope="module")
def sww_dir(data_dir: Path) -> Path:
    return data_dir / "datasets" / "sww01"


def sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def test_generated_tables_have_the_upstream_layout_and_values(data_dir: Path) -> None:
    upstream, generated = load_tables(data_dir / "sww01_frontend_tables.npz"), generated_tables()
    np.testing.assert_array_equal(generated.mel_starts, upstream.mel_starts)
    np.testing.assert_array_equal(generated.mel_lengths, upstream.mel_lengths)
    # Spec 2.6: float32 cos and log round differently from the tools that printed fixed_data.c
    # (6 window values by 2-6e-8, mel weights by up to 7e-6).
    assert np.sum(generated.window != upstream.window) == 6
    np.testing.assert_allclose(generated.window, upstream.window, rtol=0, atol=6e-8)
    np.testing.assert_allclose(generated.mel_weights, upstream.mel_weights, rtol=0, atol=1e-5)


def test_the_mel_matrix_is_float32_with_the_dc_bin_in_no_filter() -> None:
    # linear_to_mel_weight_matrix(40, 513, ...) in float32; its lower edge is 0 Hz, which no filter covers
    matrix = mel_matrix()
    assert (matrix.dtype, matrix.shape) == (np.float32, (513, 40))
    assert not matrix[0].any() and matrix[1:].any(axis=0).all()


def test_the_mel_scale_is_tensorflows() -> None:
    # TensorFlow's mel scale, 1127 ln(1 + f / 700): 700 Hz is 1127 ln 2 mel, 0 Hz is 0
    mels = _hertz_to_mel(np.array([0.0, 700.0], np.float32))
    assert mels[0] == 0
    assert mels[1] == pytest.approx(1127 * np.log(2), rel=1e-6)


def test_tables_are_read_as_the_firmwares_float32(tmp_path: Path) -> None:
    # an .npz of float64 values holds the tables the firmware compiles as float32: 0.1 is float32(0.1)
    path = tmp_path / "tables.npz"
    ones = np.ones(40, np.int64)
    np.savez(
        path,
        hamm_win_1024=np.full(1024, 0.1),
        lin2mel_packed_513x40=np.full(40, 0.1),
        lin2mel_513x40_filter_starts=np.arange(1, 41),
        lin2mel_513x40_filter_lens=ones,
    )
    tables = load_tables(path)
    np.testing.assert_array_equal(tables.window, np.full(1024, np.float32(0.1), np.float32))
    np.testing.assert_array_equal(tables.mel_weights, np.full(40, np.float32(0.1), np.float32))


def test_frames_are_pre_emphasised_float32_from_a_zeroed_block() -> None:
    # spec 2.3: frame 0 is 512 zeros then the first chunk; x = s / 32768, y = x - 0.96875 x[-1], the sample
    # before the stream 0 after boot: a chunk of 16384 gives 0.5, then 0.5 - 0.96875 * 0.5 = 0.015625
    frames = frames_of(np.full(HOP, 16384, np.int16))
    assert frames.shape == (1, 1024)
    assert frames.dtype == np.float32  # the firmware's frames are float32 (the window product rounds there)
    np.testing.assert_array_equal(frames[0, :512], np.zeros(512, np.float32))
    assert (frames[0, 512], frames[0, 513], frames[0, 1023]) == (0.5, 0.015625, 0.015625)


def test_a_filter_sums_its_products_in_float32_in_order() -> None:
    # arm_dot_prod_f32: 1 + 2^-24 rounds to 1 (ties to even), twice; a float64 sum would be 1 + 2^-23
    power = np.array([[1.0, 2.0**-24, 2.0**-24, 0.5]], np.float32)
    energies = mel_energies(power, np.array([[0, 1, 2, 3]]), np.array([[1.0, 1.0, 1.0, 2.0]], np.float32))
    assert energies.dtype == np.float32
    assert energies[0, 0] == 2.0  # 1 + 0.5 x 2, the last product counted


def test_the_bin_below_nyquist_is_a_magnitude() -> None:
    # a cosine at bin 511: its power there, |rfft(frame x window)|^2 / 1024 in float64, to float32 precision
    n = np.arange(1024)
    frame = (0.5 * np.cos(2 * np.pi * 511 * n / 1024)).astype(np.float32)[None, :]
    window = generated_tables().window
    expected = np.abs(np.fft.rfft(frame[0].astype(np.float64) * window)) ** 2 / 1024
    power = power_spectrum(frame, window)
    assert power.dtype == np.float32  # arm_cmplx_mag_f32's float32 buffer: |X| rounds in float32
    assert power[0, 511] == pytest.approx(expected[511], rel=1e-5)


def test_the_sample_before_the_stream_is_used() -> None:
    # zeros after a last sample of 0 have no energy: every feature is -128 (spec 2, clamp then clip); after
    # 1.0, frame 0 starts with -0.96875 x window[0] (0.08), an impulse of about -50 dB in every filter
    zeros = np.zeros(HOP, np.int16)
    assert (features(zeros, INPUT_SCALE, last_value=0.0) == -128).all()
    assert (features(zeros, INPUT_SCALE, last_value=1.0) > -128).any()


@pytest.mark.parametrize("wav", [SHORT, MARVIN])
def test_generated_and_upstream_tables_give_identical_features(
    wav: str, sww_dir: Path, data_dir: Path, interpreter: Interpreter
) -> None:
    upstream = stream_wav(sww_dir / wav, interpreter, load_tables(data_dir / "sww01_frontend_tables.npz"))
    generated = stream_wav(sww_dir / wav, interpreter)
    np.testing.assert_array_equal(generated.features, upstream.features)
    np.testing.assert_array_equal(generated.outputs, upstream.outputs)


@pytest.mark.parametrize("wav", [SHORT, MARVIN])
def test_features_and_outputs_equal_appendix_b(wav: str, sww_dir: Path, interpreter: Interpreter) -> None:
    result = stream_wav(sww_dir / wav, interpreter, all_chunks=True)
    assert (sha256(result.features), sha256(result.outputs)) == APPENDIX_B[wav]


def test_features_computed_in_blocks_are_the_same(
    sww_dir: Path, interpreter: Interpreter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frontend, "BLOCK_FRAMES", 100)  # the short file's 312 frames in 4 blocks
    result = stream_wav(sww_dir / SHORT, interpreter, all_chunks=True)
    assert sha256(result.features) == APPENDIX_B[SHORT][0]


def test_a_stream_played_in_blocks_gives_appendix_b(sww_dir: Path, interpreter: Interpreter) -> None:
    # the short file's 312 frames in blocks of 100: each block restarts its front end two chunks early and
    # carries the last 29 feature rows into its model windows; features and outputs hash to Appendix B
    samples = read_wav(sww_dir / SHORT).chunks(all_chunks=True)
    blocks = list(stream_blocks(samples, interpreter, block_frames=100))
    assert [len(b.features) for b in blocks] == [100, 100, 100, 12]
    outputs = np.concatenate([b.outputs for b in blocks])
    assert sha256(np.concatenate([b.features for b in blocks])) == APPENDIX_B[SHORT][0]
    assert sha256(outputs) == APPENDIX_B[SHORT][1]
    # spec 4.1: a frame pulses when class 0 > 115, and frame 0 always (the sync pulse), in any block
    expected = sorted({0, *np.flatnonzero(outputs[:, 0].astype(int) > 115).tolist()})
    assert np.concatenate([b.detections for b in blocks]).tolist() == expected


def test_short_file_frame_details_of_appendix_b(sww_dir: Path, interpreter: Interpreter) -> None:
    result = stream_wav(sww_dir / SHORT, interpreter)
    first_40 = [-128] * 18 + [-127, -124, -121, -121, -122, -121, -121, -123] + [-118] * 7
    first_40 += [-85, -10, -20, -30, 49, 112, 112]
    assert result.outputs[:40, 0].tolist() == first_40
    assert result.outputs[43, 0] == 127
    assert result.outputs[156].tolist() == [116, -128, -116]
    third_word = result.outputs[200:, 0]  # the spoken window [7.0, 7.36] s
    assert (int(third_word.argmax()) + 200, int(third_word.max())) == (235, 104)
    assert result.features[43].tolist() == [
        -128, -72, -20, -68, -14, -9, -19, 6, 6, 26, -8, -11, -26, -57, -66, -79, -59, -50, -3, 27,
        8, -10, -18, -11, 14, -10, -55, -79, -78, -57, -69, -90, -60, -47, -68, -74, -104, -119, -128, -128,
    ]  # fmt: skip
    assert int(np.sum(result.features > -128)) == 2929
    assert result.features.max() == 98


def test_detections_of_the_done_when_list(sww_dir: Path, interpreter: Interpreter) -> None:
    short = stream_wav(sww_dir / SHORT, interpreter)
    assert len(short.features) == 312
    assert short.detections.tolist() == [0, *range(43, 67), 156]
    marvin = stream_wav(sww_dir / MARVIN, interpreter)
    assert len(marvin.features) == 30  # the board never plays the last 4 KiB block
    assert marvin.detections.tolist() == [0, *range(19, 30)]


def test_short_test_json_scores_two_true_positives_one_false_negative(
    sww_dir: Path, interpreter: Interpreter
) -> None:
    test = read_test(sww_dir / "sww_short_test.json")
    result = stream_wav(sww_dir / test.wav_file, interpreter)
    timestamps = board_timestamps(result.detections.tolist(), frame_us=20_000.0)
    score = score_detections(timestamps, test.detection_windows)
    assert (score.true_positives, score.false_negatives, score.false_positives) == (2, 1, 0)
    assert score.missed_windows_s == (7.0,)


def test_timestamps_are_32_ms_apart_relative_to_the_sync_pulse() -> None:
    timestamps = board_timestamps([0, 1, 43], frame_us=17_940.0)
    assert [t - timestamps[0] for t in timestamps] == [0, 32, 43 * 32]
    assert timestamps[0] == (45_000 + 32_000 + 17_940) // 1000


def test_the_board_keeps_at_most_10000_timestamps() -> None:
    # spec 4.2: MAX_TIMESTAMPS = 10000 in DeviceUnderTest.hpp; pulses 32 ms apart all pass the 10 ms de-dup,
    # so frames 0..10004 keep frames 0..9999, the last at (45 ms + 32 ms * 10000 + 0) // 1 ms
    timestamps = board_timestamps(range(10_005), frame_us=0.0)
    assert len(timestamps) == 10_000
    assert timestamps[-1] == 45 + 32 * 10_000


def test_matching_window_ends_two_seconds_late_inclusive() -> None:
    windows = [(1.0, 1.5)]
    assert score_detections([100, 100 + 3500], windows).true_positives == 1
    late = score_detections([100, 100 + 3501], windows)
    assert (late.true_positives, late.false_negatives, late.false_positives) == (0, 1, 1)
    early = score_detections([100, 100 + 999], windows)
    assert (early.true_positives, early.false_positives) == (0, 1)


def test_matching_window_starts_at_its_start_inclusive() -> None:
    # spec 4.3: `rel/1000 >= t_start`, so a detection exactly 1000 ms after the sync pulse hits (1.0, 1.5)
    score = score_detections([100, 100 + 1000], [(1.0, 1.5)])
    assert (score.true_positives, score.false_negatives, score.false_positives) == (1, 0, 0)


def test_false_positives_debounce_over_one_second_from_each_burst_start() -> None:
    burst = [0, *range(20_000, 23_001, 32)]  # a 3 s burst of pulses 32 ms apart
    score = score_detections(burst, [])
    assert score.false_positives == 3
    assert score.false_positive_s == (20.0, 21.024, 22.048)
    assert score.f1 == 0.0


def test_one_detection_window_hit_removes_all_its_hits() -> None:
    score = score_detections([0, 1000, 1032, 1064, 5000], [(0.9, 1.2), (4.0, 4.5)])
    assert (score.true_positives, score.false_negatives, score.false_positives) == (2, 0, 0)
    assert score.f1 == 1.0


def test_no_detection_at_all_is_an_error() -> None:
    with pytest.raises(TinyInterpError, match=r"^no detections, not even the sync pulse: nothing to score$"):
        score_detections([], [(1.0, 2.0)])


def test_sync_pulse_and_threshold() -> None:
    outputs = np.array([[-128, 0, 0], [115, 0, 0], [116, 0, 0], [-128, 0, 0]], np.int8)
    assert detected_frames(outputs).tolist() == [0, 2]
    # a later block (sync False) keeps its first frame's own pulse: 116 > 115
    later = np.array([[116, 0, 0], [-128, 0, 0]], np.int8)
    assert detected_frames(later, sync=False).tolist() == [0]


def test_quantization_after_the_log_is_float32() -> None:
    # The log is computed in double and stored as float32; the rest is float32 arithmetic. For this energy
    # the float32 steps land on 57.0 exactly, where double arithmetic gives 56.99999 (truncated to 56).
    energy = np.float32(0.15206673741340637)
    level = np.float32(10.0 * math.log10(float(energy)))
    v = (level + np.float32(52)) * np.float32(1 / 64) / np.float32(INPUT_SCALE) - np.float32(128)
    assert v == np.float32(57.0)
    assert quantize(np.array([[energy]], np.float32), INPUT_SCALE).tolist() == [[57]]


def test_quantization_truncates_toward_zero_and_wraps() -> None:
    # E = 1e-30 (silence) -> -128; f just above 0 -> -127 (truncation); L = 10 dB -> v > 127 wraps.
    tiny = np.float32(10 ** ((-52 + 64 * INPUT_SCALE / 2) / 10))
    energies = np.array([[0.0, tiny, 10.0, 1e6]], np.float32)
    q = quantize(energies, INPUT_SCALE)
    v_loud = (np.float32((10 + 52) / 64) / np.float32(INPUT_SCALE)) - 128
    assert q.tolist() == [[-128, -127, int(np.trunc(v_loud)) - 256, int(np.trunc(270.19 - 128)) - 256]]


def test_wav_the_board_would_refuse_is_named(tmp_path: Path, sww_dir: Path, interpreter: Interpreter) -> None:
    data = bytearray((sww_dir / MARVIN).read_bytes())
    data[22] = 1  # mono
    path = tmp_path / "mono.wav"
    path.write_bytes(bytes(data))
    with pytest.raises(WavError, match=r"mono.wav: .*channels.*\(16, 1, 1, 16000, 16"):
        read_wav(path)
    with pytest.raises(WavError, match="cannot read"):
        read_wav(tmp_path / "absent.wav")
    short = tmp_path / "short.wav"
    short.write_bytes((sww_dir / MARVIN).read_bytes()[:4096])  # 1013 frames: the board plays none
    with pytest.raises(WavError, match=r"short.wav: 1013 samples: the DUT would process no 512-sample chunk"):
        stream_wav(short, interpreter)
    with pytest.raises(WavError, match=r"^511 samples: the DUT would process no 512-sample chunk$"):
        stream_samples(np.zeros(511, np.int16), interpreter)


def canonical_wav(samples: bytes) -> bytes:
    """A canonical 44-byte header (RIFF, WAVEfmt , 16-byte PCM fmt: 2 channels, 16 kHz, 16 bits, data), packed
    by hand, then `samples` as the data chunk."""
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 2, 16000, 16000 * 4, 4, 16)
    body = struct.pack("<4sI", b"data", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", 4 + len(fmt) + len(body)) + b"WAVE" + fmt + body


def test_a_riff_file_that_is_not_wave_is_refused(tmp_path: Path) -> None:
    # one stereo frame; the board reads "RIFF" and "WAVEfmt " both, so "AVI " is refused, and so is a file
    # too short to hold the header
    wave = canonical_wav(struct.pack("<hh", 1, 2))
    good, avi, cut = tmp_path / "good.wav", tmp_path / "avi.wav", tmp_path / "cut.wav"
    good.write_bytes(wave)
    avi.write_bytes(wave.replace(b"WAVE", b"AVI ", 1))
    cut.write_bytes(wave[:30])
    assert read_wav(good).samples.tolist() == [1]
    for path in (avi, cut):
        with pytest.raises(WavError, match=rf"{path.name}: not a RIFF/WAVE file with its fmt chunk first"):
            read_wav(path)


def test_a_wav_keeps_its_whole_frames_and_the_board_plays_all_but_its_last_block(tmp_path: Path) -> None:
    # A data chunk cut inside a frame (one frame and one sample) reads as its whole frame.
    path = tmp_path / "a.wav"
    path.write_bytes(canonical_wav(struct.pack("<hhh", 1, 2, 3)))
    assert read_wav(path).samples.tolist() == [1]
    # 8,192 bytes are two 4,096-byte blocks, 2,048 frames, 4 chunks of 512; the board never delivers the
    # last block it reads (spec 1.2): 1,024 frames, 2 chunks. With every whole chunk: 4.
    path.write_bytes(canonical_wav(np.arange(4096, dtype="<i2").tobytes()))
    wav = read_wav(path)
    assert np.array_equal(wav.chunks(), np.arange(0, 2048, 2))
    assert len(wav.chunks(all_chunks=True)) == 2048


def test_the_tables_given_are_the_ones_used(interpreter: Interpreter, tmp_path: Path) -> None:
    # a zero window zeroes every spectrum: each mel energy is clamped to 1e-30, 10 log10 = -300 dB,
    # (-300 + 52) / 64 clips to 0, 0 / scale - 128 = -128 (spec 2): every feature is -128
    samples = np.tile(np.array([3000, -3000], np.int16), HOP * 2)  # 2 chunks of a loud 8 kHz square wave
    silent_window = replace(generated_tables(), window=np.zeros(1024, np.float32))
    assert (stream_samples(samples, interpreter, silent_window).features == -128).all()
    assert (stream_samples(samples, interpreter).features != -128).any()  # the real window hears it
    path = tmp_path / "square.wav"  # the same samples on both channels, from a file
    path.write_bytes(canonical_wav(np.repeat(samples, 2).astype("<i2").tobytes()))
    assert (stream_wav(path, interpreter, silent_window, all_chunks=True).features == -128).all()


def test_a_model_the_firmware_cannot_feed_is_named(data_dir: Path) -> None:
    # kws01's model takes int8 [1, 49, 10, 1] (MLPerf Tiny keyword spotting: 49 frames x 10 MFCCs)
    kws = Interpreter(model_path=str(data_dir / "models" / "kws_ref_model.tflite"))
    kws.allocate_tensors()
    message = r"^the sww01 firmware feeds int8 \[1, 30, 1, 40\]; the model's input is int8 \[1, 49, 10, 1\]$"
    with pytest.raises(TinyInterpError, match=message):
        stream_samples(np.zeros(HOP, np.int16), kws)


def test_test_json_errors_name_the_file(tmp_path: Path) -> None:
    from tinyinterp.suite.sww.detection import TruthFileError

    path = tmp_path / "t.json"
    path.write_text('[{"wav_file": "a.wav"}]')
    with pytest.raises(TruthFileError, match=r"t\.json: not an sww test json"):
        read_test(path)
    # every field of the format is required: an entry without sample_rate is named, not half-read
    path.write_text('[{"wav_file": "a.wav", "length_sec": 1.0, "detection_windows": [[0.1, 0.2]]}]')
    with pytest.raises(TruthFileError, match=r"t\.json: not an sww test json.*KeyError 'sample_rate'"):
        read_test(path)
    with pytest.raises(TruthFileError, match=r"^\S*missing\.json: cannot read: No such file or directory$"):
        read_test(tmp_path / "missing.json")
