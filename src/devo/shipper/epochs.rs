//! Delivery epochs: the task of one Devo output. Batches are written, as they come, on the
//! connection of the epoch in progress and kept with it; the epoch ends when it is big
//! enough, old enough, idle, or flushed, and its close (see `close`) goes on in a task of its
//! own while the next epoch is written.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::ahead::Ahead;
use super::buffers::EpochBytes;
use super::close::{EpochClose, time_is_up, write_chunks};
use super::pace::{Pace, time_left, within};
use super::receipts::{ClosesInOrder, Closing, answer};
use super::shutdown::Closes;
use super::{
    Command, EPOCHS_CLOSING, EpochLimits, Health, Receipt, ShipError, Shipment, ShipperStats,
};
use crate::devo::tls::{DevoConnection, DevoEndpoint};

/// The batches of the epoch in progress, kept until its receipt so it can be replayed.
struct Epoch {
    conn: Option<DevoConnection>,
    bytes: EpochBytes,
    events: u64,
    receipts: Vec<oneshot::Sender<Receipt>>,
    opened: Instant,
    last_batch: Instant,
}

/// What one Devo output's task holds.
pub(super) struct DevoShipper {
    endpoint: Arc<DevoEndpoint>,
    limits: EpochLimits,
    epoch: Option<Epoch>,
    /// Closes in flight, answered in order.
    receipts: ClosesInOrder,
    /// Connections for the next epochs, made in advance while epochs fill up (after one closed
    /// full).
    ahead: Ahead,
    /// How big an epoch may be now.
    pace: Arc<Pace>,
    /// What the closes saw of the server, to tell its stop from its answers.
    closes: Arc<Closes>,
    stats: ShipperStats,
    health: Arc<watch::Sender<Health>>,
}

impl DevoShipper {
    pub fn new(
        endpoint: Arc<DevoEndpoint>,
        limits: EpochLimits,
        health: watch::Sender<Health>,
    ) -> Self {
        let health = Arc::new(health);
        Self {
            receipts: ClosesInOrder::new(endpoint.clone(), health.clone()),
            ahead: Ahead::new(endpoint.clone(), limits.close_timeout),
            pace: Arc::new(Pace::new(&limits)),
            closes: Arc::default(),
            endpoint,
            limits,
            epoch: None,
            stats: ShipperStats::default(),
            health,
        }
    }

    pub async fn run(mut self, mut rx: mpsc::Receiver<Command>) -> ShipperStats {
        loop {
            let max_age = self.pace.epoch_age(self.limits.max_age);
            let close_at = self
                .epoch
                .as_ref()
                .map(|e| (e.last_batch + self.limits.idle).min(e.opened + max_age));
            let oldest = self.receipts.oldest();
            let any_closing = oldest.is_some();
            tokio::select! {
                biased;
                closed = async { oldest?.await.ok() }, if any_closing => {
                    self.settle_oldest(closed);
                }
                next = rx.recv() => {
                    let shipment = match next {
                        None => break,
                        Some(Command::Flush) => {
                            self.close_epoch().await;
                            continue;
                        }
                        Some(Command::ConnectFirst) => {
                            self.ahead.first();
                            continue;
                        }
                        Some(Command::Ship(s)) => s,
                    };
                    self.accept(shipment).await;
                    let Some(epoch) = &self.epoch else { continue };
                    if epoch.bytes.len() >= self.pace.epoch_bytes() {
                        // Under load: the next epochs' connections are made meanwhile.
                        self.close_epoch().await;
                        if self.receipts.failed().is_none() {
                            self.ahead.fill();
                        }
                    } else if epoch.opened.elapsed() >= max_age {
                        self.close_epoch().await;
                    }
                }
                () = sleep_until_some(close_at) => {
                    // Idle or old: the next batch may be long in coming; connections made for
                    // it are not kept waiting (a server may time them out).
                    self.close_epoch().await;
                    self.stats.connections += self.ahead.drop_all().await;
                }
            }
        }
        self.close_epoch().await;
        while self.receipts.len() > 0 {
            self.settle_oldest_when_done().await;
        }
        let DevoShipper {
            ahead,
            mut stats,
            pace,
            ..
        } = self;
        stats.connections += ahead.finish().await;
        stats.slow_reads = pace.slow_reads();
        stats
    }

    fn settle_oldest(&mut self, closed: Option<super::close::Closed>) {
        if let Some(bytes) = self.receipts.settle_oldest(closed, &mut self.stats) {
            bytes.recycle();
        }
    }

    async fn settle_oldest_when_done(&mut self) {
        if let Some(bytes) = self.receipts.settle_oldest_when_done(&mut self.stats).await {
            bytes.recycle();
        }
    }

    async fn accept(&mut self, s: Shipment) {
        if let Some(err) = self.receipts.failed() {
            let _ = s.receipt.send(Receipt::Failed(err.clone()));
            return;
        }
        if time_left(self.limits.give_up.as_ref()).is_some_and(|left| left.is_zero()) {
            // The run's time for delivery is up: no new epoch is begun.
            let late = ShipError::at(&self.endpoint, &time_is_up());
            let _ = s.receipt.send(Receipt::Failed(Arc::new(late)));
            return;
        }
        let now = Instant::now();
        let mut epoch = match self.epoch.take() {
            Some(e) => e,
            None => {
                let bytes = EpochBytes::default();
                let conn = match self.ahead.take().await {
                    Ok(c) => {
                        self.stats.connections += 1;
                        Some(c)
                    }
                    Err(e) => {
                        // The epoch is written at its close, on a new connection.
                        tracing::debug!(message = "Cannot connect to Devo yet.", error = %e);
                        None
                    }
                };
                Epoch {
                    conn,
                    bytes,
                    events: 0,
                    receipts: Vec::new(),
                    opened: now,
                    last_batch: now,
                }
            }
        };
        epoch.last_batch = now;
        epoch.events += s.events;
        epoch.receipts.push(s.receipt);
        // Stream the batch right away; if the connection breaks, the epoch is replayed at close.
        if let Some(conn) = &mut epoch.conn {
            let timeout = within(self.limits.give_up.as_ref(), self.limits.write_timeout);
            if let Err(e) = write_chunks(conn, &s.bytes.chunks().collect::<Vec<_>>(), timeout).await
            {
                tracing::debug!(message = "Write to Devo failed; the epoch will be replayed.", error = %e);
                if let Some(conn) = epoch.conn.take() {
                    conn.abort();
                }
            }
        }
        epoch.bytes.push(s.bytes);
        self.epoch = Some(epoch);
    }

    /// Ends the epoch: its close (and replays, if it is not clean) goes on in a task of its own,
    /// once fewer than [`EPOCHS_CLOSING`] are.
    async fn close_epoch(&mut self) {
        let Some(mut epoch) = self.epoch.take() else {
            return;
        };
        while self.receipts.len() >= EPOCHS_CLOSING {
            self.settle_oldest_when_done().await;
        }
        if let Some(err) = self.receipts.failed() {
            // An earlier epoch failed for good while this one was written: it fails with it.
            answer(epoch.receipts, &Receipt::Failed(err.clone()));
            return;
        }
        let (events, bytes, receipts) = (
            epoch.events,
            epoch.bytes.len() as u64,
            std::mem::take(&mut epoch.receipts),
        );
        let task = tokio::spawn(
            EpochClose {
                endpoint: self.endpoint.clone(),
                limits: self.limits.clone(),
                health: self.health.clone(),
                pace: self.pace.clone(),
                closes: self.closes.clone(),
            }
            .run(epoch.conn.take(), epoch.bytes),
        );
        self.receipts.push(Closing {
            events,
            bytes,
            receipts,
            task,
        });
    }
}

/// Sleeps until `at`, or for ever when there is no such instant.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
