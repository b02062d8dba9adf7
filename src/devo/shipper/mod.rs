//! The shipper: one task per output that owns its Devo connections and turns framed batches into
//! receipts.
//!
//! Devo never acknowledges anything, so the only proof that bytes arrived is a clean close: we
//! send TLS close_notify, shut our write side, and read until the server closes. Writes are
//! therefore grouped into *delivery epochs*: one connection carries an epoch's batches, and
//! closing it cleanly delivers every receipt of the epoch at once. An epoch ends when it is big
//! enough, old enough, idle, or when the producers are done.
//!
//! While one epoch closes (a round trip away), the next is written on a connection of its own:
//! up to [`EPOCHS_CLOSING`] closes are in flight per output, and under load the next epochs'
//! connections are made in advance, so a far Devo costs latency, not
//! throughput. Receipts are still answered in epoch order.
//!
//! The parts, one job each: `epochs` (the output's task: batches into the epoch in progress),
//! `ahead` (connections made in advance), `close` (an epoch's close and its replays),
//! `receipts` (answered in epoch order), `buffers` (an epoch's batches, kept for a replay),
//! `shutdown` (a receipt that came as the server stopped is none). This file is the
//! producers' side: [`Shipper`], [`Outbox`], receipts, and what a failure means for the run
//! ([`ShipError::failure`], the one place that classifies a Devo failure).
//!
//! A failed epoch is replayed whole on a new connection a few times (the server may have kept
//! part of it: duplicates are possible for that epoch only, never losses). When the retries are
//! spent the shipper is *failed for good*: that and every later batch gets a failed receipt, even
//! one whose epoch reached Devo meanwhile (a duplicate on the next run, never a loss). Producers
//! rely on this ordering: a batch's `Delivered` means every batch shipped before it was
//! delivered too.
//!
//! Before anything is received from AWS, a service asks [`Shipper::ready`]: the first call of a
//! run proves the Devo connection (see [`DevoEndpoint::probe`]), later ones get its answer. A
//! receive raises a message's receive count even when the message goes back to the queue, so a
//! run during an outage must receive nothing, or it walks the backlog to the dead-letter queue.
//!
//! The shipper also publishes its [`Health`]: whether an epoch with data was delivered in this
//! run yet, and whether delivery is failing now. Queue consumers read it before each receive, so
//! that an outage raises the receive count (and the redrive policy's clock) of as few messages as
//! possible.

mod ahead;
mod buffers;
mod close;
mod epochs;
mod pace;
mod pending;
mod receipts;
mod shutdown;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::{OnceCell, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::frame::{FrameBatch, Framed, Framing, recycle};
use super::tls::{DevoEndpoint, is_certificate_rejection};
use crate::outcome::{Failure, Outcome};
use close::with_retries;
use epochs::DevoShipper;
pub use pace::{FIRST_EPOCH_BYTES, GiveUp, SlowReads};
use pending::stopped;
pub use pending::{InOrder, Pending};

/// Batches waiting for the shipper: enough to keep it busy while producers decode, few enough
/// that memory stays flat (a batch is up to 256 KiB).
const SHIPMENTS_QUEUED: usize = 8;

/// When an epoch ends and how hard a failed one is retried.
#[derive(Debug, Clone)]
pub struct EpochLimits {
    /// Close the epoch once this many bytes were written in it.
    pub max_bytes: usize,
    /// Close the epoch once it is this old (keeps receipts flowing on long runs).
    pub max_age: Duration,
    /// Close the epoch when no batch came for this long.
    pub idle: Duration,
    /// How long the server has to close after our close_notify.
    pub close_timeout: Duration,
    /// How long one write may wait for a server that does not read.
    pub write_timeout: Duration,
    /// How many times one epoch is sent before the shipper gives up.
    pub attempts: u32,
    /// Pause before the first retry, doubled for each next one.
    pub backoff: Duration,
    /// When the run stops waiting for Devo (none: never): writes, closes and retries end then,
    /// and what is not confirmed by then fails (its source is given back).
    pub give_up: Option<GiveUp>,
}

impl Default for EpochLimits {
    fn default() -> Self {
        Self {
            max_bytes: EPOCH_BYTES,
            max_age: Duration::from_secs(10),
            idle: Duration::from_millis(200),
            close_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            attempts: 3,
            backoff: Duration::from_millis(500),
            give_up: None,
        }
    }
}

/// Where batches go.
pub enum Destination {
    Devo(Arc<DevoEndpoint>),
    /// `--dry-run`: to standard output; nothing is ever acknowledged.
    Stdout,
}

/// Why a batch was not delivered.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ShipError {
    pub message: String,
    /// A certificate was refused: a configuration problem rather than a passing one.
    pub certificate_rejected: bool,
}

impl ShipError {
    /// Why `endpoint` did not take our data.
    pub fn at(endpoint: &DevoEndpoint, e: &io::Error) -> Self {
        Self {
            message: format!("cannot deliver to Devo at {}: {e}", endpoint.display()),
            certificate_rejected: is_certificate_rejection(e),
        }
    }

    /// What this failure means for the run: a refused certificate must be fixed (exit 3),
    /// anything else passes (exit 4).
    pub fn failure(&self) -> Failure {
        let outcome = if self.certificate_rejected {
            Outcome::Config
        } else {
            Outcome::Temporary
        };
        Failure::new(outcome, self.message.clone())
    }
}

/// The answer for one batch.
#[derive(Debug, Clone)]
pub enum Receipt {
    /// Devo has it: acknowledge the source.
    Delivered,
    /// Dry run: printed, not delivered; acknowledge nothing.
    Printed,
    /// Not delivered: leave the source as it is.
    Failed(Arc<ShipError>),
}

/// Totals of one shipper, for the run summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct ShipperStats {
    pub epochs: u64,
    pub connections: u64,
    /// Epochs written again on a new connection after a close that was not clean.
    pub replays: u64,
    pub events_delivered: u64,
    pub bytes_delivered: u64,
    /// A server that read slowly: how slowly, and what epochs were cut to.
    pub slow_reads: Option<SlowReads>,
}

/// What was handed to the shipper for one unit of work (a message, an object).
pub struct Shipped {
    /// The answer for the last shipment (the shipper answers in order, so this one speaks for
    /// all of them); None when there was nothing to ship.
    pub receipt: Option<Pending>,
    pub events: u64,
    pub bytes: u64,
}

impl Shipped {
    /// Nothing to ship: the message can be acknowledged as it is.
    pub const NOTHING: Self = Self {
        receipt: None,
        events: 0,
        bytes: 0,
    };

    /// This shipment followed by `next`: the totals, and the receipt of the later one (which
    /// speaks for both).
    pub fn then(self, next: Self) -> Self {
        Self {
            receipt: next.receipt.or(self.receipt),
            events: self.events + next.events,
            bytes: self.bytes + next.bytes,
        }
    }

    /// The answer for all of it (nothing shipped is delivered).
    pub async fn answer(self) -> Receipt {
        match self.receipt {
            Some(answer) => answer.await,
            None => Receipt::Delivered,
        }
    }
}

/// Framed bytes per shipment: big enough to keep the connection busy, small enough that the
/// queue to the shipper stays a few MiB.
pub const BATCH_BYTES: usize = 256 << 10;

/// The one way out for events, shared by every source: events are framed into a batch handed
/// to the shipper whenever it reaches [`BATCH_BYTES`] ([`Outbox::push`]), or whole batches are
/// handed over ([`Outbox::ship`]), each with a mark of the source's (how far into an object it
/// reaches; nothing, for the services pulled by time). What was shipped waits in order for its
/// answers ([`Outbox::answered`]); [`Outbox::finish`] ships the rest and says what was shipped.
pub struct Outbox<M = ()> {
    shipper: Shipper,
    framing: Framing,
    batch: FrameBatch,
    sent: InOrder<Sent<M>>,
    /// What was shipped, in all.
    events: u64,
    bytes: u64,
}

/// A batch shipped and not yet answered.
#[derive(Debug)]
pub struct Sent<M> {
    pub mark: M,
    pub events: u64,
    pub bytes: u64,
}

impl<M> Outbox<M> {
    pub fn new(shipper: &Shipper, framing: &Framing) -> Self {
        Self {
            shipper: shipper.clone(),
            framing: framing.clone(),
            batch: framing.batch(),
            sent: InOrder::default(),
            events: 0,
            bytes: 0,
        }
    }

    /// Frames one event, shipping the batch once it is full (sources that push events mark
    /// nothing).
    pub async fn push(&mut self, tag: &str, message: &str)
    where
        M: Default,
    {
        self.batch.push(tag, message);
        if self.batch.len() >= BATCH_BYTES {
            let full = std::mem::replace(&mut self.batch, self.framing.batch());
            self.ship(full, M::default()).await;
        }
    }

    /// Ships a batch framed elsewhere, marked `mark`.
    pub async fn ship(&mut self, batch: FrameBatch, mark: M) {
        let shipped = self.shipper.ship_counted(batch).await;
        self.events += shipped.events;
        self.bytes += shipped.bytes;
        if let Some(answer) = shipped.receipt {
            let sent = Sent {
                mark,
                events: shipped.events,
                bytes: shipped.bytes,
            };
            self.sent.push(sent, answer);
        }
    }

    /// The oldest batch whose answer has come, without waiting.
    pub fn answered(&mut self) -> Option<(Sent<M>, Receipt)> {
        self.sent.try_next()
    }

    /// The oldest batch and its answer, waiting for it.
    pub async fn next_answer(&mut self) -> Option<(Sent<M>, Receipt)> {
        self.sent.next().await
    }

    /// Batches shipped and not answered yet.
    pub fn waiting(&self) -> bool {
        !self.sent.is_empty()
    }

    /// The events and bytes shipped so far.
    pub fn shipped(&self) -> (u64, u64) {
        (self.events, self.bytes)
    }

    /// Ships what is framed and says what was shipped in all, with the answer of the last batch
    /// (which speaks for all).
    pub async fn finish(mut self) -> Shipped
    where
        M: Default,
    {
        let rest = std::mem::replace(&mut self.batch, self.framing.batch());
        self.ship(rest, M::default()).await;
        Shipped {
            receipt: self.sent.into_last(),
            events: self.events,
            bytes: self.bytes,
        }
    }
}

struct Shipment {
    bytes: Framed,
    events: u64,
    receipt: oneshot::Sender<Receipt>,
}

/// What producers send an output's task.
enum Command {
    Ship(Shipment),
    /// Close the epoch now rather than when it is idle: its producers have nothing more to
    /// send for a while and wait for its receipt.
    Flush,
    /// Devo is being checked and the first batch follows it: make the first epoch's connection
    /// now, so that the wait every connection makes before its close (`devo::tls`) passes during
    /// the check and the first receive, not after the first batch.
    ConnectFirst,
}

/// What the producers may know of delivery in this run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Health {
    /// Epochs carrying data that Devo received in this run (a dry run counts as proven).
    pub epochs_delivered: u64,
    /// The last delivery attempt failed, or the shipper gave up: receive nothing more.
    pub failing: bool,
}

/// Whether a source may pull more, as delivery stands (see [`Shipper::gate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullGate {
    /// An epoch with data reached Devo in this run, and delivery is not failing: pull freely.
    Open,
    /// Nothing was delivered yet in this run: pull one batch at a time, until it is.
    Proving,
    /// Delivery is failing: pull nothing more (each receive raises a message's receive count).
    Closed,
}

/// The producers' handle: cheap to clone; the shipper ends when every handle is dropped.
/// With several outputs, every batch goes to each, and its receipt says Delivered only once
/// each output has it.
#[derive(Clone)]
pub struct Shipper {
    outputs: Vec<Output>,
}

/// One output: its task's queue, health and proof.
#[derive(Clone)]
struct Output {
    tx: mpsc::Sender<Command>,
    health: watch::Receiver<Health>,
    gate: Arc<Gate>,
}

/// The run's proof that Devo takes our data, made once.
struct Gate {
    /// None for a dry run: nothing to prove.
    endpoint: Option<Arc<DevoEndpoint>>,
    limits: EpochLimits,
    proven: OnceCell<Result<(), Arc<ShipError>>>,
}

impl Gate {
    /// The probe, tried as often as an epoch is (a refused certificate is not tried again).
    async fn prove(&self) -> Result<(), Arc<ShipError>> {
        let Some(endpoint) = &self.endpoint else {
            return Ok(());
        };
        let limits = &self.limits;
        let probed = with_retries(
            limits,
            || endpoint.probe(limits.close_timeout),
            |attempt, e| {
                if attempt < limits.attempts && !is_certificate_rejection(e) {
                    tracing::warn!(message = "Devo connection check failed; trying again.", endpoint = %endpoint.display(), attempt, error = %e);
                }
            },
        )
        .await;
        probed.map_err(|e| {
            let mut failure = ShipError::at(endpoint, &e);
            failure.message.push_str("; nothing was received");
            tracing::error!(
                message = "Devo does not take our data: nothing was received or pulled.",
                error = %failure.message
            );
            Arc::new(failure)
        })
    }
}

impl Shipper {
    /// Starts one task per destination (each with its limits); the handle that is returned
    /// ends with the last of them and sums their figures.
    pub fn start(
        destinations: Vec<(Destination, EpochLimits)>,
    ) -> (Self, JoinHandle<ShipperStats>) {
        let (outputs, tasks): (Vec<Output>, Vec<JoinHandle<ShipperStats>>) = destinations
            .into_iter()
            .map(|(destination, limits)| start_output(destination, limits))
            .unzip();
        let all = tokio::spawn(async move {
            let mut total = ShipperStats::default();
            for task in tasks {
                if let Ok(s) = task.await {
                    total.epochs += s.epochs;
                    total.connections += s.connections;
                    total.replays += s.replays;
                    total.events_delivered += s.events_delivered;
                    total.bytes_delivered += s.bytes_delivered;
                    total.slow_reads = match (total.slow_reads, s.slow_reads) {
                        (Some(a), Some(b)) if b.bytes_per_sec > a.bytes_per_sec => Some(a),
                        (a, b) => b.or(a),
                    };
                }
            }
            total
        });
        (Self { outputs }, all)
    }

    /// Whether Devo takes our data, at every output: proven by the first call of the run (a
    /// connection check per output), answered from memory after. Call it before receiving.
    pub async fn ready(&self) -> Result<(), Arc<ShipError>> {
        for output in &self.outputs {
            output
                .gate
                .proven
                .get_or_init(|| {
                    let _ = output.tx.try_send(Command::ConnectFirst);
                    output.gate.prove()
                })
                .await
                .clone()?;
        }
        Ok(())
    }

    /// The one question a source asks before it pulls more: may it, and how much?
    pub fn gate(&self) -> PullGate {
        let health = self.health();
        if health.failing {
            PullGate::Closed
        } else if health.epochs_delivered > 0 {
            PullGate::Open
        } else {
            PullGate::Proving
        }
    }

    /// Epochs with data delivered in this run at every output: a sign of progress (a lease
    /// renewed while epochs keep arriving).
    pub fn epochs_delivered(&self) -> u64 {
        self.health().epochs_delivered
    }

    /// Delivery as it stands now, over every output: proven when each has delivered an epoch,
    /// failing when any is.
    fn health(&self) -> Health {
        self.outputs.iter().fold(
            Health {
                epochs_delivered: u64::MAX,
                failing: false,
            },
            |all, output| {
                let h = *output.health.borrow();
                Health {
                    epochs_delivered: all.epochs_delivered.min(h.epochs_delivered),
                    failing: all.failing || h.failing,
                }
            },
        )
    }

    /// Closes the epochs in progress without waiting for them to be idle: for a producer that
    /// has shipped all it has for now and is about to wait for the receipts.
    pub async fn flush(&self) {
        for output in &self.outputs {
            let _ = output.tx.send(Command::Flush).await;
        }
    }

    /// Queues a batch (nothing when it is empty) and says what was queued.
    pub async fn ship_counted(&self, batch: FrameBatch) -> Shipped {
        if batch.is_empty() {
            return Shipped::NOTHING;
        }
        let (events, bytes) = (batch.events(), batch.len() as u64);
        Shipped {
            receipt: Some(self.ship(batch).await),
            events,
            bytes,
        }
    }

    /// Queues a batch for every output; the answer comes once its fate is known at each.
    pub async fn ship(&self, batch: FrameBatch) -> Pending {
        let events = batch.events();
        let bytes = batch.into_framed();
        if let [only] = self.outputs.as_slice() {
            return only.ship(bytes, events).await;
        }
        let mut answers = Vec::with_capacity(self.outputs.len());
        for output in &self.outputs {
            answers.push(output.ship(bytes.clone(), events).await);
        }
        let (receipt, rx) = oneshot::channel();
        tokio::spawn(async move {
            let mut combined = Receipt::Delivered;
            for answer in answers {
                match answer.await {
                    failed @ Receipt::Failed(_) => {
                        combined = failed;
                        break;
                    }
                    Receipt::Printed => combined = Receipt::Printed,
                    Receipt::Delivered => {}
                }
            }
            let _ = receipt.send(combined);
        });
        Pending::new(rx)
    }
}

/// Starts the task of one destination.
fn start_output(
    destination: Destination,
    limits: EpochLimits,
) -> (Output, JoinHandle<ShipperStats>) {
    let (tx, rx) = mpsc::channel(SHIPMENTS_QUEUED);
    let (health_tx, health) = watch::channel(Health::default());
    let gate = Arc::new(Gate {
        endpoint: match &destination {
            Destination::Devo(endpoint) => Some(endpoint.clone()),
            Destination::Stdout => None,
        },
        limits: limits.clone(),
        proven: OnceCell::new(),
    });
    let task = match destination {
        Destination::Devo(endpoint) => {
            tokio::spawn(DevoShipper::new(endpoint, limits, health_tx).run(rx))
        }
        Destination::Stdout => {
            health_tx.send_modify(|h| h.epochs_delivered = 1);
            tokio::spawn(print_all(rx))
        }
    };
    (Output { tx, health, gate }, task)
}

impl Output {
    async fn ship(&self, bytes: Framed, events: u64) -> Pending {
        let (receipt, rx) = oneshot::channel();
        let shipment = Shipment {
            bytes,
            events,
            receipt,
        };
        if let Err(mpsc::error::SendError(Command::Ship(s))) =
            self.tx.send(Command::Ship(shipment)).await
        {
            let _ = s.receipt.send(Receipt::Failed(stopped()));
        }
        Pending::new(rx)
    }
}

async fn print_all(mut rx: mpsc::Receiver<Command>) -> ShipperStats {
    let mut out = tokio::io::stdout();
    let mut stats = ShipperStats::default();
    // A reader that went away (`| head`) has seen what it wanted: the rest is not printed, and
    // that is no failure.
    let mut reader_gone = false;
    while let Some(command) = rx.recv().await {
        let Command::Ship(s) = command else { continue };
        let written = if reader_gone {
            Ok(())
        } else {
            out.write_all(&s.bytes.bytes).await
        };
        let receipt = match written {
            Ok(()) => Receipt::Printed,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                reader_gone = true;
                Receipt::Printed
            }
            Err(e) => Receipt::Failed(Arc::new(ShipError {
                message: format!("cannot write to standard output: {e}"),
                certificate_rejected: false,
            })),
        };
        stats.bytes_delivered += s.bytes.len() as u64;
        recycle(s.bytes.bytes);
        let _ = s.receipt.send(receipt);
    }
    let _ = out.flush().await;
    stats
}

/// Epochs closing at once, per output: the close of one (a round trip for the server's
/// close_notify, more with a replay) overlaps the writing of the next, so a Devo far away costs
/// latency, not throughput. Each holds its bytes until its receipt, for a replay.
pub const EPOCHS_CLOSING: usize = 3;
/// Bytes after which an epoch ends (by default).
pub const EPOCH_BYTES: usize = 4 << 20;
/// The most bytes an output has sent without a receipt yet: the epoch being written and those
/// closing, each up to its size and one batch. A run that dies ships them again (duplicates).
pub const MOST_BYTES_UNCONFIRMED: usize = (1 + EPOCHS_CLOSING) * (EPOCH_BYTES + BATCH_BYTES);
