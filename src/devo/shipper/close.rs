//! Close and replay: an epoch's close runs in a task of its own. A clean close (see
//! [`close_cleanly`]) is its receipt; a close that is not clean, or an epoch whose connection
//! broke while it was written, is replayed on new connections, in pieces the server can read
//! within the close timeout (`pace`), a few times, with a pause that doubles. Every write, close
//! and pause ends with the run's time for delivery.

use std::io;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::time::Instant;

use super::buffers::EpochBytes;
use super::pace::{Pace, time_left, within};
use super::shutdown::Closes;
use super::{EpochLimits, Health};
use crate::devo::frame::Framed;
use crate::devo::tls::{
    DevoConnection, DevoEndpoint, close_cleanly, is_certificate_rejection, is_own_close,
};

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
        if n >= limits.attempts
            || is_certificate_rejection(&e)
            || time_left(limits.give_up.as_ref()).is_some_and(|left| left <= backoff)
        {
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
    pub pace: Arc<Pace>,
    pub closes: Arc<Closes>,
}

/// Connections made and replays written by one close.
#[derive(Default)]
struct Tally {
    connections: u64,
    replays: u64,
}

impl EpochClose {
    /// The clean close of `conn`; when it is not clean (or there is none), a replay of `bytes` on
    /// new connections, in pieces no bigger than an epoch may now be (a server that timed out on
    /// the epoch gets it in parts it can read in time).
    pub async fn run(self, conn: Option<DevoConnection>, bytes: EpochBytes) -> Closed {
        let mut tally = Tally::default();
        let result = match conn {
            None => self.replay(&bytes, 0, &mut tally).await,
            Some(conn) => match self.close(conn, bytes.len()).await {
                Ok(()) => Ok(()),
                Err(e) if !self.retry_after(1, &e) => Err(e),
                Err(_) => self.replay(&bytes, 1, &mut tally).await,
            },
        };
        Closed {
            result,
            connections: tally.connections,
            replays: tally.replays,
            bytes,
        }
    }

    /// Reports failure number `n` and says whether another try may follow.
    fn retry_after(&self, n: u32, e: &io::Error) -> bool {
        self.health.send_modify(|h| h.failing = true);
        tracing::warn!(
            message = "Delivery to Devo failed.",
            endpoint = %self.endpoint.display(),
            attempt = n,
            of = self.limits.attempts,
            error = %e
        );
        n < self.limits.attempts && !is_certificate_rejection(e)
    }

    /// Writes the epoch again, piece by piece, each on a connection of its own closed cleanly;
    /// a piece that fails is tried again after a pause that doubles, until `attempts` failures
    /// in a row or the run's time for delivery is up.
    async fn replay(
        &self,
        bytes: &EpochBytes,
        mut failures: u32,
        tally: &mut Tally,
    ) -> io::Result<()> {
        let chunks: Vec<&[u8]> = bytes.batches().flat_map(Framed::chunks).collect();
        let mut done = 0;
        let mut backoff = self.limits.backoff;
        while done < chunks.len() {
            if failures > 0 {
                if time_left(self.limits.give_up.as_ref()).is_some_and(|left| left <= backoff) {
                    return Err(time_is_up());
                }
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            let end = piece_end(&chunks, done, self.pace.epoch_bytes());
            tally.replays += 1;
            match self.send_piece(&chunks[done..end], tally).await {
                Ok(()) => {
                    done = end;
                    failures = 0;
                    backoff = self.limits.backoff;
                }
                Err(e) => {
                    failures += 1;
                    if !self.retry_after(failures, &e) {
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    /// One piece of a replay on a new connection, closed cleanly.
    async fn send_piece(&self, piece: &[&[u8]], tally: &mut Tally) -> io::Result<()> {
        let mut conn = self.endpoint.connect().await?;
        tally.connections += 1;
        let timeout = within(self.limits.give_up.as_ref(), self.limits.write_timeout);
        if let Err(e) = write_chunks(&mut conn, piece, timeout).await {
            conn.abort();
            return Err(e);
        }
        self.close(conn, piece.iter().map(|c| c.len()).sum()).await
    }

    /// The clean close of a connection that carried `bytes`, within the close timeout and the
    /// run's time for delivery; how long it took tells the pace of the next epochs.
    async fn close(&self, conn: DevoConnection, bytes: usize) -> io::Result<()> {
        let timeout = within(self.limits.give_up.as_ref(), self.limits.close_timeout);
        if timeout.is_zero() {
            conn.abort();
            return Err(time_is_up());
        }
        let awaiting = self.closes.awaiting();
        let started = Instant::now();
        let closed = close_cleanly(conn, timeout).await;
        drop(awaiting);
        let timed_out = matches!(&closed, Err(e) if e.kind() == io::ErrorKind::TimedOut);
        if closed.is_ok() || (timed_out && timeout == self.limits.close_timeout) {
            self.pace.closed(bytes, started.elapsed(), timed_out);
        } else if timed_out {
            return Err(time_is_up());
        }
        match closed {
            Err(e) if is_own_close(&e) => {
                self.closes.closed_on_its_own();
                Err(e)
            }
            Ok(()) if self.closes.voids(Instant::now()).await => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server closed another of our connections on its own as it answered this one: it was stopping, and may have dropped what it read",
            )),
            closed => closed,
        }
    }
}

/// Where the piece that starts at chunk `from` ends: as many chunks as fit in `max` bytes, and
/// at least one.
fn piece_end(chunks: &[&[u8]], from: usize, max: usize) -> usize {
    let mut bytes = 0;
    let mut end = from;
    while let Some(chunk) = chunks.get(end) {
        if end > from && bytes + chunk.len() > max {
            break;
        }
        bytes += chunk.len();
        end += 1;
    }
    end
}

/// The run's time for delivery ran out before Devo confirmed.
pub(super) fn time_is_up() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "the run's time for delivery is up (--deadline and its grace, or a stop signal) before Devo confirmed the epoch",
    )
}

/// Bytes written into rustls between two flushes.
const FLUSH_BYTES: usize = super::BATCH_BYTES;

/// Writes `chunks`, each as TLS records of its own (see `frame::Framed`: the connection's TLS
/// buffer is unlimited, set at connect, so rustls takes a chunk whole rather than the part that
/// fits), flushing every [`FLUSH_BYTES`]; fails when the server does not take them all within
/// `timeout`.
pub(super) async fn write_chunks(
    conn: &mut DevoConnection,
    chunks: &[&[u8]],
    timeout: Duration,
) -> io::Result<()> {
    let write = async {
        let mut pending = 0;
        for chunk in chunks {
            conn.stream.get_mut().1.writer().write_all(chunk)?;
            pending += chunk.len();
            if pending >= FLUSH_BYTES {
                conn.stream.flush().await?;
                pending = 0;
            }
        }
        conn.stream.flush().await
    };
    tokio::time::timeout(timeout, write)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the server stopped reading"))?
}
