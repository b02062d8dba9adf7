//! End-to-end tests: the built `devo-aws` against moto and a TLS server that demands a client
//! certificate. `make test` starts moto and runs them.

// Shared set-up: workdir, the binary, moto helpers, the Devo stand-in.
mod support;

// events and securityhub through SQS: exact bytes, exactly once, acknowledgement.
mod events;
// The S3+SQS pipeline: CloudTrail, VPC Flow Logs and CloudFront objects announced on SQS.
mod objects;
// Every S3 object format on files shaped as AWS writes them: bytes, tags, bad lines, KMS.
mod formats;
// CloudTrail digests checked against what was shipped: whole, altered, missing then found,
// broken chains, unknown keys, organisation trails.
mod integrity;
// Replays from the bucket (--start-time on S3 services): windows, resumption, late objects.
mod replay;
// Cursor services (logs, audit from the API, metrics): counts, resumption, backfill, pacing.
mod cursors;
// Devo side: endpoint down, foreign client certificate, framing through the real shipper.
mod delivery;
// Credentials: role chains, bad keys, and `devo-aws check`.
mod credentials;
// Devo misbehaving: resets, stalls, unclean closes, bad certificates; nothing lost.
mod faults;
// Config errors refused with their key path, before anything is pulled.
mod config;
// Mistakes a migrating user makes: said, never a quiet exit 0.
mod mistakes;
// Operating it: exit codes, `all`, logs, secrets, the example config, deploy/.
mod operations;
// Several workers on one config: S3 state, leases, shards; exactly once, throughput.
mod workers;
// Hostile objects: capped, reported, skipped; memory measured.
mod hostile;
// Watching a run: Prometheus textfile, Pushgateway, promtool, JSON report.
mod metrics;
// Real peers: rsyslog as Devo, queues with a dead-letter queue, outages.
mod syslog;
// Relays that restart, drain or close on their own: no receipt for what they did not read.
mod relays;
// The layers of src/: no module uses one of its own layer or above.
mod layers;
// man/, completions/ and the README exit codes match the code.
mod generated;
