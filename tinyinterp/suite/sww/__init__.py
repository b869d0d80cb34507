"""sww01, the streaming wake-word benchmark: front end, detections and scoring (`specs/sww01.md`)."""

from tinyinterp.suite.sww.stream import StreamResult, read_wav, stream_samples, stream_wav

__all__ = ["StreamResult", "read_wav", "stream_samples", "stream_wav"]
