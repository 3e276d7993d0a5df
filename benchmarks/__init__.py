"""The speed harness behind `make bench` (`python -m benchmarks.run [--quick] [--strict]`).

- `problem`: the synthetic, learnable benchmark table and its files (npz, Parquet, CSV);
- `standalone_train`: the careful hand-written PyTorch loop, also runnable as a script that
  trains from a Parquet file with nothing but pyarrow and torch;
- `baselines`: the idiomatic DataLoader loop, the hand-written loop as a stepper, sgemm peak;
- `run`: measures everything, prints the tables and targets, writes `bench-results/bench.json`.
"""
