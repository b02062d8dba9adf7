//! Receipts in epoch order: up to [`super::EPOCHS_CLOSING`] epochs close at once, but their
//! receipts are answered oldest first, and once one epoch failed for good every later one fails
//! too, even one that reached Devo meanwhile (a duplicate on the next run, never a loss). So a
//! batch's `Delivered` speaks for every batch shipped before it, and producers keep only the
//! receipt of their last batch.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::buffers::EpochBytes;
use super::close::Closed;
use super::{Health, Receipt, ShipError, ShipperStats};
use crate::devo::tls::DevoEndpoint;

/// An epoch whose close runs in its own task; its receipts wait here.
pub(super) struct Closing {
    pub events: u64,
    pub bytes: u64,
    pub receipts: Vec<oneshot::Sender<Receipt>>,
    pub task: JoinHandle<Closed>,
}

/// The closes in flight, oldest first, and whether delivery failed for good.
pub(super) struct ClosesInOrder {
    endpoint: Arc<DevoEndpoint>,
    health: Arc<watch::Sender<Health>>,
    closing: VecDeque<Closing>,
    failed: Option<Arc<ShipError>>,
}

impl ClosesInOrder {
    pub fn new(endpoint: Arc<DevoEndpoint>, health: Arc<watch::Sender<Health>>) -> Self {
        Self {
            endpoint,
            health,
            closing: VecDeque::new(),
            failed: None,
        }
    }

    /// Why delivery failed for good, once it has: every later batch fails with it.
    pub fn failed(&self) -> Option<&Arc<ShipError>> {
        self.failed.as_ref()
    }

    pub fn len(&self) -> usize {
        self.closing.len()
    }

    pub fn push(&mut self, closing: Closing) {
        self.closing.push_back(closing);
    }

    /// The task of the oldest close, to wait on.
    pub fn oldest(&mut self) -> Option<&mut JoinHandle<Closed>> {
        self.closing.front_mut().map(|c| &mut c.task)
    }

    /// Waits for the oldest close and answers its receipts; its bytes back, for the next
    /// batches.
    pub async fn settle_oldest_when_done(
        &mut self,
        stats: &mut ShipperStats,
    ) -> Option<EpochBytes> {
        let task = self.oldest()?;
        let closed = task.await.ok();
        self.settle_oldest(closed, stats)
    }

    /// Answers the receipts of the oldest closing epoch with how its close ended (None: its task
    /// is gone). After a failure delivery is failed for good: later epochs fail too. The epoch's
    /// bytes back.
    pub fn settle_oldest(
        &mut self,
        closed: Option<Closed>,
        stats: &mut ShipperStats,
    ) -> Option<EpochBytes> {
        let epoch = self.closing.pop_front()?;
        let closed = closed.unwrap_or_else(Closed::stopped);
        stats.connections += closed.connections;
        stats.replays += closed.replays;
        let receipt = match (&self.failed, closed.result) {
            (Some(earlier), _) => Receipt::Failed(earlier.clone()),
            (None, Ok(())) => {
                stats.epochs += 1;
                stats.events_delivered += epoch.events;
                stats.bytes_delivered += epoch.bytes;
                tracing::debug!(
                    message = "Delivery epoch closed cleanly.",
                    events = epoch.events,
                    bytes = epoch.bytes
                );
                self.health.send_modify(|h| {
                    h.epochs_delivered += 1;
                    h.failing = false;
                });
                Receipt::Delivered
            }
            (None, Err(err)) => {
                let failure = Arc::new(ShipError::at(&self.endpoint, &err));
                self.health.send_modify(|h| h.failing = true);
                self.failed = Some(failure.clone());
                // The epochs after it fail with it: stop their closes.
                for later in &self.closing {
                    later.task.abort();
                }
                Receipt::Failed(failure)
            }
        };
        answer(epoch.receipts, &receipt);
        Some(closed.bytes)
    }
}

/// Answers every receipt of `receipts` with `receipt`.
pub(super) fn answer(receipts: Vec<oneshot::Sender<Receipt>>, receipt: &Receipt) {
    for r in receipts {
        let _ = r.send(receipt.clone());
    }
}
