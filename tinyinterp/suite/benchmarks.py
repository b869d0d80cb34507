"""The MLPerf Tiny benchmarks: one record per benchmark with every fact the other modules need.

Adding a benchmark is one entry here; modules dispatch on the record's fields (stimulus format, payload
format, metric, run rules), never on a benchmark's name. Sources: mlcommons/tiny `benchmark/training/*/
trained_models/` (files, MD5), `benchmark/reference_submissions/*` (input conversion, `th_results`),
`benchmark/runner` (scoring, result folders), `MLPerfTiny_Rules.adoc` (run rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from tinyinterp.model import Model

# How a dataset file becomes model inputs (th_load_tensor), named as error messages say it.
StimulusFormat = Literal["int8 bytes", "uint8 RGB", "float32 values", "wav"]
# How th_results prints one result (see protocol.result_payloads).
PayloadFormat = Literal["fixed3", "fixed3 trailing commas", "truncated3", "anomaly score", "detections"]
Metric = Literal["top-1", "AUC", "detections"]
# single-stream: timed `infer N W` loops on 5 inputs; streaming: a wav played in real time (sww, v1.3).
RunRules = Literal["single-stream", "streaming"]


@dataclass(frozen=True)
class Benchmark:
    name: str  # as the firmware's m-model-[...] and the runner's tests_*.yaml say it
    short: str  # submission folder (results/<system>/<short>/), zoo stand-in, published results' name
    model_file: str
    md5: str  # of the published reference model (the .md5 file beside it upstream, where there is one)
    upstream_dir: str  # folder under mlcommons/tiny benchmark/training/
    stimulus: StimulusFormat
    payload: PayloadFormat
    metric: Metric
    rules: RunRules = "single-stream"
    windowed: bool = False  # a dataset file is cut into sliding windows, one inference each (label file)

    @property
    def streaming(self) -> bool:
        return self.rules == "streaming"

    def stand_in(self) -> Model:
        """The zoo's stand-in model: the reference's layers with seeded random weights (the zoo's seed)."""
        from tinyinterp.zoo import stand_in

        return stand_in(self.short)


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "kws01",
            "kws",
            "kws_ref_model.tflite",
            "618aeb155673dae92fa6a7f26608add5",
            "keyword_spotting",
            stimulus="int8 bytes",
            payload="truncated3",
            metric="top-1",
        ),
        Benchmark(
            "vww01",
            "vww",
            "vww_96_int8.tflite",
            "f0b011416abee0343a5d130cb1f4c18f",
            "visual_wake_words",
            stimulus="uint8 RGB",
            payload="fixed3 trailing commas",
            metric="top-1",
        ),
        Benchmark(
            "ic01",
            "ic",
            "pretrainedResnet_quant.tflite",
            "2d6dd48722471313e4c4528249205ae3",
            "image_classification",
            stimulus="uint8 RGB",
            payload="fixed3",
            metric="top-1",
        ),
        Benchmark(
            "ad01",
            "ad",
            "ad01_int8.tflite",
            "361fa1b1b871e2068b2ab38d9805ef56",
            "anomaly_detection",
            stimulus="float32 values",
            payload="anomaly score",
            metric="AUC",
            windowed=True,
        ),
        Benchmark(
            "sww01",
            "sww",
            "str_ww_ref_model.tflite",
            "9643512e0b8a0b6e643e70c2fec496ee",
            "streaming_wakeword",
            stimulus="wav",
            payload="detections",
            metric="detections",
            rules="streaming",
        ),
    )
}
SINGLE_STREAM = tuple(name for name, b in BENCHMARKS.items() if not b.streaming)
