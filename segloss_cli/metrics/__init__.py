"""Public metric maths: validates, calls kernels, returns plain numbers per class."""
