//! devo-aws as a library: the binary's modules, public so the benchmarks and the integration
//! tests can reach the parsers and the framing directly. Layers, lowest first (ARCHITECTURE.md;
//! `tests/e2e/layers.rs` keeps them):

// Layer 0: the vocabulary every layer speaks, and pure arithmetic.
/// What a run's AWS requests bill (units as AWS counts them) and the list prices: pure.
pub mod bill;
/// How a run, service or region ended (`Outcome`, `Failure`) and the exit codes.
pub mod outcome;
/// Time windows, slicing to fit a lease, alignment, time parsing: pure arithmetic.
pub mod window;

// Layer 1: parsers, shards, Devo.
/// Devo: tags, syslog framing, the mutual-TLS connection, the shipper and its receipts.
pub mod devo;
/// Parsers of what arrives from AWS: EventBridge, S3 notifications, CloudTrail, flow logs, CloudFront.
pub mod formats;
/// `--shard I/N`: which regions and cursors belong to one worker.
pub mod shard;

// Layer 2: config.yaml.
/// The seed-compatible `config.yaml`: model, registry of services, validation, plans, loading.
pub mod config;

// Layer 3: the command line, the AWS SDK.
/// AWS SDK set-up: credentials and role chains, endpoints, retries, call counting.
pub mod aws;
/// The command line: subcommands and options; the source of the man page and completions.
pub mod cli;

// Layer 4: state.
/// Where each service got to between runs: filesystem or S3 backend behind one handle.
pub mod state;

// Layer 5: one service's cycle.
/// The harness of one service's bounded cycle: context, lock, due time, summary.
pub mod cycle;

// Layer 6: the services.
/// The services, over the shared SQS consumer, S3 object pipeline and cursor puller.
pub mod sources;

// Layer 7: check, and what a run reports.
/// `devo-aws check`: every line a run depends on, proven without pulling data.
pub mod check;
/// What a run reports: Prometheus metrics (textfile, Pushgateway) and a JSON report.
pub mod report;

// Layer 8: one run.
/// One run: load, set up Devo and AWS, run the chosen services, rank their outcomes.
pub mod run;

/// A mutex's guard even when another thread panicked while holding it: what our mutexes guard
/// (counters, maps of held messages and leases) is updated in single steps, never left half done.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
