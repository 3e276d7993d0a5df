"""sigmoidnet: sigmoid-output classifiers from a YAML config.

Kept import-free on purpose: `sigmoidnet --help` and `sigmoidnet activate` must start
without torch.
"""

__version__ = "0.1.0"
