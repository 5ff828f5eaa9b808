"""``--threads`` for training: :func:`convprop.threads.set_num_threads`, the one thread setting (the
convolution kernels' workers, each with BLAS on one thread), under the name the trainer and the CLI import."""

from convprop.threads import set_num_threads

__all__ = ["set_num_threads"]
