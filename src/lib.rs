//! devo-aws as a library: the binary's modules, public so the benchmarks and the integration
//! tests can reach the parsers and the framing directly.

pub mod aws;
pub mod check;
pub mod cli;
pub mod config;
pub mod cycle;
pub mod devo;
pub mod formats;
pub mod run;
pub mod shard;
pub mod sources;
pub mod state;
