//! The command line: `low` is what clap parses, `high` what the program
//! runs (ripgrep's lowargs / hiargs).

pub mod high;
pub mod low;
