"""segloss: evaluate segmentations: every loss and metric, per class."""

__version__ = "0.1.0"

# True in the `segloss` command's own process (set by cli.main before any command runs), so
# process-wide shortcuts stay out of library use (see kernels._jit._skip_blas_probe).
CLI_PROCESS = False
