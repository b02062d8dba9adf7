//! devo-aws as a library: the binary's modules, public so the benchmarks and the integration
//! tests can reach the parsers and the framing directly.

pub mod aws;
pub mod check;
pub mod cli;
pub mod config;
pub mod cycle;
pub mod devo;
pub mod formats;
pub mod outcome;
pub mod run;
pub mod shard;
pub mod sources;
pub mod state;
pub mod window;

/// A mutex's guard even when another thread panicked while holding it: what our mutexes guard
/// (counters, maps of held messages and leases) is updated in single steps, never left half done.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
