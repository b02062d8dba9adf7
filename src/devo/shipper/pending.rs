//! What producers hold once they have shipped: a [`Pending`] answer per shipment (the one
//! receipt type every source awaits; an answer that never comes is a failure inside it), and
//! [`InOrder`], the one keeper of answers in shipping order: each source that records progress
//! (a message's delete, an object's delivered prefix, a replay's directories, a cursor) adds what
//! it shipped with its answer, and takes back what is settled, oldest first.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use super::{Receipt, ShipError};
use crate::outcome::Failure;

/// The answer to come for one shipment.
#[derive(Debug)]
pub struct Pending(oneshot::Receiver<Receipt>);

impl Pending {
    pub(super) fn new(rx: oneshot::Receiver<Receipt>) -> Self {
        Self(rx)
    }

    /// An answer to give later, through the sender.
    pub fn channel() -> (oneshot::Sender<Receipt>, Self) {
        let (tx, rx) = oneshot::channel();
        (tx, Self(rx))
    }

    /// An answer already known.
    pub fn ready(receipt: Receipt) -> Self {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(receipt);
        Self(rx)
    }

    /// The answer, if it has come (without waiting).
    pub fn answered(&mut self) -> Option<Receipt> {
        match self.0.try_recv() {
            Ok(receipt) => Some(receipt),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => Some(Receipt::Failed(stopped())),
        }
    }
}

impl Future for Pending {
    type Output = Receipt;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Receipt> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|answer| answer.unwrap_or_else(|_| Receipt::Failed(stopped())))
    }
}

impl Receipt {
    /// The answer as the run counts it: `Delivered` or `Printed`, or the failure it means.
    pub fn outcome(self) -> Result<Self, Failure> {
        match self {
            Self::Failed(e) => Err(e.failure()),
            done => Ok(done),
        }
    }

    /// Devo has it: acknowledge the source.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Self::Delivered)
    }
}

/// The shipper went away before answering.
pub(super) fn stopped() -> Arc<ShipError> {
    Arc::new(ShipError {
        message: "the shipper stopped before answering".into(),
        certificate_rejected: false,
    })
}

/// Items shipped, each with its answer to come, in shipping order. The shipper answers in
/// order and a failure fails every later shipment, so an item's `Delivered` speaks for every
/// item before it.
#[derive(Debug)]
pub struct InOrder<T> {
    waiting: VecDeque<(T, Pending)>,
}

impl<T> Default for InOrder<T> {
    fn default() -> Self {
        Self {
            waiting: VecDeque::new(),
        }
    }
}

impl<T> InOrder<T> {
    pub fn push(&mut self, item: T, answer: Pending) {
        self.waiting.push_back((item, answer));
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The oldest item whose answer has come, without waiting.
    pub fn try_next(&mut self) -> Option<(T, Receipt)> {
        let (_, answer) = self.waiting.front_mut()?;
        let receipt = answer.answered()?;
        self.waiting.pop_front().map(|(item, _)| (item, receipt))
    }

    /// The oldest item and its answer, waiting for it.
    pub async fn next(&mut self) -> Option<(T, Receipt)> {
        let (item, answer) = self.waiting.pop_front()?;
        Some((item, answer.await))
    }

    /// The newest item's answer, which speaks for all (none when nothing waits): what a
    /// producer that does not record along the way keeps.
    pub fn into_last(mut self) -> Option<Pending> {
        self.waiting.pop_back().map(|(_, answer)| answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_come_back_in_shipping_order() {
        let mut kept = InOrder::default();
        let (first, second) = (oneshot::channel(), oneshot::channel());
        kept.push(1, Pending::new(first.1));
        kept.push(2, Pending::new(second.1));
        let _ = second.0.send(Receipt::Delivered);
        assert!(kept.try_next().is_none(), "the first is not answered yet");
        drop(first.0);
        let (item, receipt) = kept.try_next().unwrap();
        assert_eq!(item, 1);
        assert!(
            matches!(receipt, Receipt::Failed(_)),
            "an answer that never comes is a failure"
        );
        let (item, receipt) = kept.next().await.unwrap();
        assert!(item == 2 && receipt.is_delivered());
        assert!(kept.next().await.is_none());
    }
}
