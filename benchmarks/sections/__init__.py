"""The bench's sections, one module each, each with one `run(plan, …, res)` that measures and
records its rows, JSON and targets in `res` (`benchmarks.harness.Results`). `benchmarks.run`
calls them in order, each guarded: one that fails is recorded and the others still run.

- `startup`: start-up time of the `sigmoidnet` command against `import torch`;
- `sgemm`: the machine's float32 matrix-multiply peak;
- `throughput`: epochs of sigmoidnet's engine against the hand-written and DataLoader loops;
- `cuda`: the same on the GPU, fp32 and bf16 (only when CUDA is available);
- `load`: sigmoidnet's `load_dataset` against pandas and pyarrow readers;
- `mixed`: loading + encoding a mixed table (text, missing cells) against pandas +
  scikit-learn's `ColumnTransformer`;
- `command`: the whole `sigmoidnet train` process against a standalone script;
- `predict`: the whole `sigmoidnet predict` process;
- `scaling`: engine epoch time per row at growing table sizes.
"""
