//! Seeded data generators shared by the benchmarks and the CLI.
