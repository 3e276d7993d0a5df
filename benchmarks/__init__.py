"""The speed harness behind `make bench` (`python -m benchmarks.run [--quick] [--strict]`).

- `problem`: the synthetic, learnable benchmark table and its files (npz, Parquet, CSV);
- `standalone_train`: the careful hand-written PyTorch loop, also runnable as a script that
  trains from a Parquet file with nothing but pyarrow and torch;
- `baselines`: the idiomatic DataLoader loop, the hand-written loop as a stepper, sgemm peak;
- `run`: runs the sections in order, prints the tables and targets, writes
  `bench-results/bench.json`;
- `sections`: one module per section (startup, sgemm, throughput, cuda, load, command,
  predict, scaling), each with a `run(plan, …, res)`;
- `harness`: what the sections share: plan, results and targets, timing and child-process
  helpers, the report; `files`: the generated data files and configs;
- `internals`: the bench's only in-process calls into sigmoidnet (engine, `load_dataset`).
"""
