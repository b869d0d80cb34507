"""Label files and ad01 windows as the runner reads and cuts them, on small files written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyinterp.suite.datasets import (
    DatasetError,
    Stimulus,
    convert_loads,
    label_file,
    model_inputs,
    quantize_float_to_int8,
    read_labels,
    stimulus_loads,
)


def test_label_files_in_either_spelling(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=f"^{tmp_path}: no y_labels.csv \\(or Y_labels.csv\\) label file$"):
        label_file(tmp_path)
    (tmp_path / "Y_labels.csv").write_text("a.bin,2,1\n")
    assert label_file(tmp_path) == tmp_path / "Y_labels.csv"
    (tmp_path / "y_labels.csv").write_text("b.bin,2,0\n")
    assert label_file(tmp_path) == tmp_path / "y_labels.csv"


def test_label_rows_by_hand(tmp_path: Path) -> None:
    # Blank rows and rows with an empty file name are skipped (not the end); columns past the 5th ignored.
    (tmp_path / "y_labels.csv").write_text(
        'a.bin,10,3\r\n\r\n,,\r\n"b,c.bin",2,1,2560,512,99\r\nd.bin,2,0,2560\r\ng.bin,,2\r\n'
    )
    assert read_labels(tmp_path) == [
        Stimulus("a.bin", 3),
        Stimulus("b,c.bin", 1, 2560, 512),
        Stimulus("d.bin", 0, 2560),
        Stimulus("g.bin", 2),  # the class count is not read
    ]


@pytest.mark.parametrize(("row", "line"), [("e.bin,2", 1), ("f.bin,2,one", 1)])
def test_bad_label_rows_are_named_with_their_line(row: str, line: int, tmp_path: Path) -> None:
    (tmp_path / "y_labels.csv").write_text(f"{row}\n")
    with pytest.raises(DatasetError, match=f"^{tmp_path / 'y_labels.csv'}:{line}: cannot parse"):
        read_labels(tmp_path)
    (tmp_path / "y_labels.csv").write_text(f"a.bin,2,1\n{row}\n")
    with pytest.raises(DatasetError, match=f"^{tmp_path / 'y_labels.csv'}:{line + 1}: cannot parse"):
        read_labels(tmp_path)


def test_ad01_windows_by_hand() -> None:
    data = bytes(range(10))
    # Window 4, stride 3: offsets 0, 3, 6 (6 + 4 = 10 fits exactly; 9 would not).
    cut = stimulus_loads("ad01", data, 8, Stimulus("x.bin", 0, 4, 3))
    assert cut == [bytes([0, 1, 2, 3]), bytes([3, 4, 5, 6]), bytes([6, 7, 8, 9])]
    # Without window and stride in the label row: one load's size, stride equal to it.
    assert stimulus_loads("ad01", data, 5, Stimulus("x.bin", 0)) == [data[:5], data[5:]]
    assert stimulus_loads("ad01", data, 10) == [data]  # a file exactly one window long
    assert stimulus_loads("ad01", data, 8, Stimulus("x.bin", 0, 1, 1)) == [bytes([b]) for b in data]
    assert stimulus_loads("kws01", data, 4, Stimulus("x.bin", 0, 4, 3)) == [data]  # only ad01 is cut


@pytest.mark.parametrize(("window", "stride", "load"), [(11, 1, 8), (4, -1, 8)])
def test_ad01_windows_that_cannot_be_cut_are_refused(window: int, stride: int, load: int) -> None:
    with pytest.raises(
        DatasetError,
        match=f"^10 bytes cannot be cut into ad01 windows of {window} bytes with stride {stride}$",
    ):
        stimulus_loads("ad01", bytes(10), load, Stimulus("x.bin", 0, window, stride))


def test_a_label_file_listing_no_stimuli_is_named(tmp_path: Path) -> None:
    (tmp_path / "y_labels.csv").write_text("\n \n")  # blank lines only: nothing to score
    with pytest.raises(DatasetError) as error:
        read_labels(tmp_path)
    rows = "file,num_classes,label[,window_bytes,stride_bytes]"
    assert str(error.value) == f"{tmp_path / 'y_labels.csv'}: no stimuli listed (rows {rows})"


def test_a_stimulus_files_model_inputs_by_hand() -> None:
    """kws01: the bytes are the int8 values; ic01: each byte - 128; ad01: the label row's windows of float32
    values, each round(value / 0.5) (half away from zero) + zero point -3, clamped to int8."""
    np.testing.assert_array_equal(
        model_inputs("kws01", bytes([0x80, 0x7F, 0xFF, 0x01]), (1, 2, 2), 1.0, 0),
        np.array([[[-128, 127], [-1, 1]]], np.int8),
    )
    np.testing.assert_array_equal(
        model_inputs("ic01", bytes([0, 128, 255, 127]), (1, 4), 1.0, 0),
        np.array([[-128, 0, 127, -1]], np.int8),
    )
    values = np.array([0.25, 1.0, -1.25, 3.0, 0.75, -0.5, 100.0, -0.1], "<f4")
    # 0.25 -> 0.5 -> 1 - 3 = -2; 1 -> 2 -> -1; -1.25 -> -2.5 -> -3 - 3 = -6; 3 -> 6 -> 3;
    # 0.75 -> 1.5 -> 2 -> -1; -0.5 -> -1 -> -4; 100 -> 200 -> 197, clamped to 127; -0.1 -> -0.2 -> 0 -> -3.
    q = [-2, -1, -6, 3, -1, -4, 127, -3]
    # Windows of 16 bytes (4 values) every 8 bytes (2 values), as the label row says; one load is 4 values.
    row = Stimulus("x.bin", 0, 16, 8)
    np.testing.assert_array_equal(
        model_inputs("ad01", values.tobytes(), (1, 4), 0.5, -3, row),
        np.array([q[0:4], q[2:6], q[4:8]], np.int8),
    )
    # Without a label row: back-to-back windows of one load.
    np.testing.assert_array_equal(
        model_inputs("ad01", values.tobytes(), (1, 4), 0.5, -3), np.array([q[0:4], q[4:8]], np.int8)
    )


def test_quantizing_a_float_saturates_at_the_int8_range() -> None:
    """Scale 1, zero point 0: -1000, -129 and -128.6 clamp to -128; 1000, 128 and 127.4 to 127."""
    values = np.array([-1000.0, -129.0, -128.6, 1000.0, 128.0, 127.4], np.float32)
    np.testing.assert_array_equal(quantize_float_to_int8(values, 1.0, 0), [-128, -128, -128, 127, 127, 127])


def test_quantizing_a_float_divides_in_float32() -> None:
    """0.25 / float32(0.1) (= 0.100000001490116) is 2.49999996 in float64, which rounds to 2; float32 keeps
    24 bits (a step of 2.4e-7 near 2.5): the quotient is exactly 2.5, rounded half away to 3 (-0.25: -3)."""
    values = np.array([0.25, -0.25], np.float32)
    np.testing.assert_array_equal(quantize_float_to_int8(values, 0.1, 0), [3, -3])


def test_loads_of_the_wrong_size_are_named_with_the_benchmarks_format() -> None:
    with pytest.raises(DatasetError) as error:
        convert_loads("kws01", [bytes(5), bytes(4), bytes(3)], (1, 4), 1.0, 0)
    assert str(error.value) == "3, 5 bytes, expected 4 bytes (int8 bytes) per kws01 input"
