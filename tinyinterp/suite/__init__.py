"""The MLPerf Tiny benchmarks: datasets, input conversion and scoring."""
