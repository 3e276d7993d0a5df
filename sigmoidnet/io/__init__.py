"""sigmoidnet.io: what sigmoidnet writes besides the run directory (prediction files)."""

from sigmoidnet.io.writers import PredictionWriter, output_format

__all__ = ["PredictionWriter", "output_format"]
