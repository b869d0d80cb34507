"""Public helpers for testing kernels and models against tinyinterp's bit-exact reference."""
