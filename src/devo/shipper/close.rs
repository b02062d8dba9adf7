//! Close and replay: an epoch's close runs in a task of its own. A clean close (see
//! [`close_cleanly`]) is its receipt; a close that is not clean, or an epoch whose connection
//! broke while it was written, is replayed whole on a new connection, a few times, with a pause
//! that doubles.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::buffers::EpochBytes;
use super::{EpochLimits, Health};
use crate::devo::tls::{DevoConnection, DevoEndpoint, close_cleanly, is_certificate_rejection};

/// Tries `attempt` up to `limits.attempts` times, pausing `limits.backoff` before the second and
/// twice as long before each next, and not again after a refused certificate; `failed` hears of
/// each failure (the attempt's number and its error). The last error, when none succeeded.
pub(super) async fn with_retries<Fut>(
    limits: &EpochLimits,
    mut attempt: impl FnMut() -> Fut,
    mut failed: impl FnMut(u32, &io::Error),
) -> io::Result<()>
where
    Fut: Future<Output = io::Result<()>>,
{
    let mut backoff = limits.backoff;
    let mut n = 1;
    loop {
        let Err(e) = attempt().await else {
            return Ok(());
        };
        failed(n, &e);
        if n >= limits.attempts || is_certificate_rejection(&e) {
            return Err(e);
        }
        tokio::time::sleep(backoff).await;
        backoff *= 2;
        n += 1;
    }
}

/// How a close (with its replays) ended, and the epoch's bytes back for the next batches.
pub(super) struct Closed {
    pub result: io::Result<()>,
    pub connections: u64,
    pub replays: u64,
    pub bytes: EpochBytes,
}

impl Closed {
    /// The answer when the close's task is gone (aborted, or it panicked).
    pub fn stopped() -> Self {
        Self {
            result: Err(io::Error::other("the epoch's close stopped")),
            connections: 0,
            replays: 0,
            bytes: EpochBytes::default(),
        }
    }
}

/// The close of one epoch, in its own task.
pub(super) struct EpochClose {
    pub endpoint: Arc<DevoEndpoint>,
    pub limits: EpochLimits,
    pub health: Arc<watch::Sender<Health>>,
}

impl EpochClose {
    /// The clean close of `conn`, or of a replay of `bytes` on a new connection when it is not
    /// clean (or there is none).
    pub async fn run(self, conn: Option<DevoConnection>, bytes: EpochBytes) -> Closed {
        let replays = AtomicU64::new(0);
        let connections = AtomicU64::new(0);
        let mut first = conn;
        let result = with_retries(
            &self.limits,
            || {
                let conn = first.take();
                let (this, bytes, replays, connections) = (&self, &bytes, &replays, &connections);
                async move {
                    let conn = match conn {
                        Some(c) => c,
                        None => {
                            replays.fetch_add(1, Ordering::Relaxed);
                            let mut c = this.endpoint.connect().await?;
                            connections.fetch_add(1, Ordering::Relaxed);
                            write_within(&mut c, bytes.batches(), this.limits.write_timeout)
                                .await?;
                            c
                        }
                    };
                    close_cleanly(conn, this.limits.close_timeout).await
                }
            },
            |attempt, e| {
                self.health.send_modify(|h| h.failing = true);
                tracing::warn!(
                    message = "Delivery to Devo failed.",
                    endpoint = %self.endpoint.display(),
                    attempt,
                    of = self.limits.attempts,
                    error = %e
                );
            },
        )
        .await;
        Closed {
            result,
            connections: connections.into_inner(),
            replays: replays.into_inner(),
            bytes,
        }
    }
}

/// Writes `batches`, failing when the server does not take them all within `timeout`.
pub(super) async fn write_within<'b>(
    conn: &mut DevoConnection,
    batches: impl IntoIterator<Item = &'b [u8]>,
    timeout: Duration,
) -> io::Result<()> {
    let write = async {
        for batch in batches {
            conn.stream.write_all(batch).await?;
        }
        Ok(())
    };
    tokio::time::timeout(timeout, write)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the server stopped reading"))?
}
