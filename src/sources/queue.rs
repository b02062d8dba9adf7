//! The SQS consumer every queue-fed service is built on.
//!
//! Per region: ReceiveMessage 10 at a time with a short wait until the queue is drained, the
//! message budget is spent or the run must stop. Each received batch is handed to the service's
//! [`MessageHandler`] message by message (concurrently), which ships the message's events and
//! returns the receipt of its last shipment. Once a batch's receipts are in, its delivered
//! messages are deleted with one DeleteMessageBatch. Nothing is deleted before its receipt says
//! Delivered. While batches wait, more are received, up to a bound; and several receives are in
//! flight at once (doubling while batches come back full, up to [`MAX_RECEIVES_IN_FLIGHT`], back
//! to one as the queue empties), since AWS answers in tens of milliseconds. When no receive is
//! coming (the queue is drained, or no epoch reached Devo yet), the last message shipped closes
//! the delivery epoch at once (`Shipper::flush`) rather than after the shipper's idle wait; while
//! receiving outruns delivery, the epoch closes each time the messages shipped since its last
//! close fill half the room for held messages, so their deletes give room back while the rest is
//! received.
//!
//! Messages not delivered (dry run, Devo failure, not started before the run had to stop) stay
//! held until the region is done and then go back to the queue at once (visibility 0); while
//! held, a keeper extends their visibility once half of it has passed. A message that cannot be
//! understood is reported with its id and left alone, so the queue's redrive policy deals with it.
//!
//! Every receive raises the messages' receive count, even when they go back to the queue, so
//! receiving follows delivery: until an epoch with data reached Devo in this run, a region holds
//! at most one received batch, and no region receives while delivery is failing. A run during an
//! outage thus moves no message closer to the dead-letter queue than one receive batch per region
//! (none at all when Devo is down from the start: the run checks it before receiving).
//! A dry run takes at most [`DRY_RUN_MESSAGES`] per queue unless `--max-messages` says otherwise.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
};
use futures_util::StreamExt;
use futures_util::future::join_all;
use futures_util::stream::FuturesUnordered;
use tokio::time::Instant;

use crate::aws::{Aws, aws_error};
use crate::config::{QueuePlan, ServiceKind, ServicePlan};
use crate::cycle::{Counters, RunContext};
use crate::devo::frame::FrameBatch;
use crate::devo::shipper::{PullGate, Shipped};
use crate::lock;
use crate::outcome::{Failure, Outcome};
use crate::sources::held::{Held, HeldMessage, SQS_BATCH, keep_visible, release};
use crate::sources::{devo_ready, each_region};

/// Long-poll wait of a receive: short, but long enough to ask every SQS server. After a receive
/// that came back short the queue is nearly drained, and the next one does not wait: an empty
/// answer then ends the region without a second spent waiting.
const RECEIVE_WAIT_SECS: i32 = 1;
/// Received batches being handled or waiting for their receipts, per region.
const MAX_BATCHES_IN_FLIGHT: usize = 200;
/// ReceiveMessage calls in flight at most, per queue and region (`DEVO_AWS_RECEIVES_IN_FLIGHT`,
/// 1 to this, lowers it: to go easy on a queue, or to measure).
pub const MAX_RECEIVES_IN_FLIGHT: usize = 16;

fn receives_in_flight() -> usize {
    std::env::var("DEVO_AWS_RECEIVES_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(MAX_RECEIVES_IN_FLIGHT, |n| {
            n.clamp(1, MAX_RECEIVES_IN_FLIGHT)
        })
}
/// A visibility timeout shorter than this is warned about (see `warn_of_short_visibility`).
const SHORT_VISIBILITY: Duration = Duration::from_secs(30);
/// Messages a dry run takes from each queue when `--max-messages` is not given.
pub const DRY_RUN_MESSAGES: u64 = 10;
/// SQS's default retention, when the queue does not say.
const DEFAULT_RETENTION: Duration = Duration::from_secs(4 * 24 * 3600);

/// One received message, as a handler sees it.
pub struct Incoming<'a> {
    pub id: &'a str,
    pub body: &'a str,
    /// The region whose queue it came from.
    pub region: &'a str,
    /// How long the queue keeps a message: what is remembered of it need not outlive this.
    pub retention: Duration,
    /// How many times SQS has handed it out, this time included (when SQS says): a message
    /// received for the first time has no progress from an earlier run.
    pub receive_count: Option<u32>,
}

/// Why a message was not shipped.
#[derive(Debug)]
pub enum Rejection {
    /// It cannot be understood: reported and left to the queue's redrive policy.
    Poison(String),
    /// Something else failed (S3 unreachable, ...): the message goes back to the queue.
    Failed(Failure),
    /// Its every object was held back by `s3_file_type_filter`: decided when the region is
    /// done ([`MessageHandler::filtered_verdict`]).
    Filtered,
}

impl Rejection {
    /// What went wrong, in words.
    pub fn reason(self) -> String {
        match self {
            Self::Poison(why) => why,
            Self::Failed(f) => f.reason,
            Self::Filtered => "every object was held back by s3_file_type_filter".into(),
        }
    }
}

/// A service's way of turning one message into shipped events: it ships them itself
/// ([`MessageHandler::handle`], S3 objects), or frames them ([`MessageHandler::frame`],
/// EventBridge and Security Hub), and then every message of a received batch goes to Devo in one
/// shipment.
pub trait MessageHandler: Sync {
    /// Whether this handler frames ([`MessageHandler::frame`]) rather than ships.
    fn frames(&self) -> bool {
        false
    }

    /// Ships the events of `message`.
    fn handle<'a>(
        &'a self,
        _message: Incoming<'a>,
    ) -> impl Future<Output = Result<Shipped, Rejection>> + 'a {
        async { Err(not_this_way()) }
    }

    /// Frames the events of `message` into `batch`; how many there were.
    fn frame<'a>(
        &'a self,
        _message: Incoming<'a>,
        _batch: &'a mut FrameBatch,
    ) -> impl Future<Output = Result<u64, Rejection>> + 'a {
        async { Err(not_this_way()) }
    }

    /// What becomes of the messages whose every object the key filter held back: deleted (none:
    /// the filter let objects of this run through, it is doing its job), or given back to the
    /// queue unread because the filter matched nothing in the run (a mistake: the failure says
    /// so, and the run exits 3).
    fn filtered_verdict(&self) -> Option<Failure> {
        None
    }
}

/// What to consume: the queue of a service in each of its regions, and the handler of its
/// messages.
pub struct QueueJob<'a, H> {
    pub kind: ServiceKind,
    queue: &'a QueuePlan,
    regions: &'a [String],
    handler: &'a H,
}

impl<'a, H> QueueJob<'a, H> {
    /// The job of the service of `plan`, on its `queue`.
    pub fn new(plan: &'a ServicePlan, queue: &'a QueuePlan, handler: &'a H) -> Self {
        Self {
            kind: plan.kind,
            queue,
            regions: &plan.regions,
            handler,
        }
    }

    fn service(&self) -> &'static str {
        self.kind.name()
    }

    fn queue_name(&self) -> &str {
        &self.queue.name
    }
}

/// Messages left for this service's run (`--max-messages`), shared by its regions.
struct MessageBudget(Option<AtomicU64>);

impl MessageBudget {
    /// Takes up to `want` messages from the budget.
    fn take(&self, want: u64) -> u64 {
        let Some(left) = &self.0 else { return want };
        let mut got = 0;
        let _ = left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| {
            got = l.min(want);
            Some(l - got)
        });
        got
    }

    fn give_back(&self, n: u64) {
        if let Some(left) = &self.0 {
            left.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// Consumes the job's queue in every region concurrently; returns the worst failure.
pub async fn consume<H: MessageHandler>(
    ctx: &RunContext,
    job: &QueueJob<'_, H>,
    counters: &Arc<Counters>,
) -> Result<(), Failure> {
    let shared = Arc::new(MessageBudget(ctx.options.max_messages.map(AtomicU64::new)));
    each_region(job.service(), job.regions, ctx.worker.shard, |region| {
        let budget = if ctx.options.dry_run && ctx.options.max_messages.is_none() {
            Arc::new(MessageBudget(Some(AtomicU64::new(DRY_RUN_MESSAGES))))
        } else {
            shared.clone()
        };
        let region_run = RegionRun {
            ctx,
            job,
            region,
            sqs: ctx.aws.sqs(region),
            counters: counters.clone(),
            budget,
            held: OnceLock::new(),
            failure: Mutex::default(),
            shipping: AtomicUsize::new(0),
            shipped: AtomicUsize::new(0),
            receiving: AtomicBool::new(true),
            filtered: Mutex::default(),
        };
        async move { region_run.run().await }
    })
    .await
}

/// A handler asked for what it does not do (a bug).
fn not_this_way() -> Rejection {
    Rejection::Failed(Failure::new(
        Outcome::Internal,
        "a message handler was asked to ship what it frames, or the other way round",
    ))
}

/// What becomes of one message once it was handled.
#[derive(Debug, Clone, Copy)]
enum Verdict {
    Delete,
    /// Back to the queue when the region is done.
    Hold,
    /// Poison: left invisible for the redrive policy; no longer extended or released.
    Forget,
}

struct RegionRun<'a, H> {
    ctx: &'a RunContext,
    job: &'a QueueJob<'a, H>,
    region: &'a str,
    sqs: Client,
    counters: Arc<Counters>,
    budget: Arc<MessageBudget>,
    /// The messages held (once the queue is open).
    held: OnceLock<Arc<Held>>,
    /// The first failure of this region; receiving stops once there is one.
    failure: Mutex<Option<Failure>>,
    /// Messages of received batches not shipped yet (not yet waiting for their receipts).
    shipping: AtomicUsize,
    /// Messages handled so far (shipped, or not to be).
    shipped: AtomicUsize,
    /// Whether more messages will be received soon: if not, the last message shipped closes the
    /// delivery epoch at once rather than after the shipper's idle wait.
    receiving: AtomicBool,
    /// Messages whose every object the key filter held back, decided when the region is done.
    filtered: Mutex<Vec<u64>>,
}

type Receiving<'a> = Pin<Box<dyn Future<Output = Result<Vec<Message>, Failure>> + 'a>>;

/// How many receives a region keeps in flight: from the start as many as the queue's backlog
/// fills, growing while batches come back full (AWS answers in tens of milliseconds, so one at a
/// time would bound a queue to 10 messages a round trip), back to one as the queue empties, so an
/// idle tick stays as cheap as ever.
struct ReceivePace {
    target: usize,
    most: usize,
    /// A receive came back empty, or the budget is spent.
    drained: bool,
    /// A receive came back short: the next ones do not wait.
    nearly_drained: bool,
    /// The receive order of the next message.
    next_seq: u64,
}

impl ReceivePace {
    /// The pace for a queue with `waiting` messages (when SQS said): as many receives at once
    /// as the backlog fills, rather than doubling up to them a round trip at a time.
    fn new(waiting: Option<u64>) -> Self {
        let most = receives_in_flight();
        let full_batches = waiting.map_or(0, |w| w / SQS_BATCH as u64);
        Self {
            target: usize::try_from(full_batches).unwrap_or(most).clamp(1, most),
            most,
            drained: false,
            nearly_drained: false,
            next_seq: 0,
        }
    }

    /// A receive brought `n` messages: the receive order of the first, if any came.
    fn received(&mut self, n: usize) -> Option<u64> {
        if n == 0 {
            self.drained = true;
            return None;
        }
        if n < SQS_BATCH {
            self.nearly_drained = true;
            self.target = 1;
        } else {
            self.target = (self.target * 2).min(self.most);
        }
        let first = self.next_seq;
        self.next_seq += n as u64;
        Some(first)
    }
}

impl<H: MessageHandler> RegionRun<'_, H> {
    async fn run(&self) -> Result<(), Failure> {
        let queue = self.open_queue().await?;
        let (url, visibility) = (queue.url.clone(), queue.visibility);
        if let Some(waiting) = queue.waiting {
            self.counters.note_backlog(self.region, waiting);
        }
        // An empty queue costs two calls and no wait: a cron tick with nothing to do is quick.
        // (A message that arrives meanwhile is for the next run.)
        if queue.waiting == Some(0) {
            tracing::debug!(message = "Queue empty.", queue = self.job.queue_name(), region = %self.region);
            return Ok(());
        }
        devo_ready(self.ctx).await?;
        let held = self
            .held
            .get_or_init(|| Arc::new(Held::new(visibility)))
            .clone();
        self.warn_of_short_visibility(visibility, &held);
        let keeper = tokio::spawn(keep_visible(self.sqs.clone(), url.clone(), held.clone()));
        let drained = self.pump(&queue, &held).await;
        self.settle_filtered(&url, &held).await;
        keeper.abort();
        let still_held = held.drain();
        let released = still_held.len();
        release(&self.sqs, &url, still_held, &held).await;
        // Received messages that went back are not drained either, though every receive was
        // answered (all of the backlog can be in hand when the deadline comes).
        if (!drained || released > 0) && self.ctx.should_stop() && !self.ctx.options.dry_run {
            self.counters.note(format!(
                "the deadline (or a stop signal) ended the run in {} with the queue not drained: {released} received messages went back to the queue, and the next run takes them with what is still waiting",
                self.region,
            ));
        }
        if held.lost() > 0 {
            self.counters.note(format!(
                "{} messages in {} ran out of visibility while held (see the warnings): raise the queue's visibility timeout",
                held.lost(),
                self.region
            ));
        }
        lock(&self.failure).take().map_or(Ok(()), Err)
    }

    /// The messages whose every object the key filter held back: deleted when the filter let
    /// objects of this run through (it is doing its job); else given back unread with the
    /// others held, and the region fails with the handler's word (a filter that matches
    /// nothing is a mistake, and losing the data to it is not an option).
    async fn settle_filtered(&self, url: &str, held: &Held) {
        let seqs = std::mem::take(&mut *lock(&self.filtered));
        if seqs.is_empty() {
            return;
        }
        if let Some(mistake) = self.job.handler.filtered_verdict() {
            lock(&self.failure).get_or_insert(mistake);
            return;
        }
        if self.ctx.options.dry_run {
            return;
        }
        let messages: Vec<HeldMessage> = seqs.iter().filter_map(|seq| held.get(*seq)).collect();
        if !messages.is_empty() {
            delete(&self.sqs, url, &messages).await;
        }
        for seq in seqs {
            held.remove(seq);
        }
    }

    /// Says when the queue's visibility timeout is shorter than a message may wait for Devo's
    /// receipt: every message held is then extended, at a cost in calls, and a region holds
    /// fewer at once.
    fn warn_of_short_visibility(&self, visibility: Duration, held: &Held) {
        if visibility >= SHORT_VISIBILITY {
            return;
        }
        tracing::warn!(
            message = "The queue's visibility timeout is shorter than a message may wait for Devo's receipt (an epoch of up to 10 s and its close): each message held is extended every third of it, and fewer are held at once. A visibility timeout of 60 s or more needs no extension in the normal course.",
            queue = self.job.queue_name(),
            region = %self.region,
            visibility_seconds = visibility.as_secs(),
            held_at_most = held.most()
        );
    }

    /// Receives and handles batches until the queue is drained, the budget is spent, the run
    /// must stop or receiving is no longer allowed; then waits for the batches in hand. Whether
    /// the queue was drained.
    async fn pump(&self, queue: &OpenQueue, held: &Held) -> bool {
        let mut batches = FuturesUnordered::new();
        let mut receiving: FuturesUnordered<Receiving<'_>> = FuturesUnordered::new();
        let mut pace = ReceivePace::new(queue.waiting);
        // How many messages had been shipped when the epoch was last closed here.
        let mut shipped_at_close = 0;
        loop {
            // Delivery epochs close by volume while receiving outruns them: once the messages
            // shipped since the last close fill half the room (a quarter once receiving waits
            // for room), so that their receipt and deletes give room back while the rest is
            // received. (Closing at every wait for room made epochs of a few messages once
            // receiving outran delivery, each a connection of its own: slower still.)
            let shipped = self.shipped.load(Ordering::Relaxed);
            let share = if self.has_room((batches.len(), receiving.len()), held) {
                2
            } else {
                4
            };
            if shipped - shipped_at_close >= (held.most() / share).max(SQS_BATCH)
                && self.ctx.shipper.gate() == PullGate::Open
            {
                shipped_at_close = shipped;
                self.flush_aside();
            }
            loop {
                let gate = self.ctx.shipper.gate();
                let in_flight = (batches.len(), receiving.len());
                if pace.drained || !self.may_receive(gate, in_flight, held, pace.target) {
                    // Until a receive comes back, what is shipped is all there is: its epoch
                    // need not wait to be idle.
                    let more = !pace.drained && gate == PullGate::Open && !self.ctx.should_stop();
                    if self.receiving.swap(more, Ordering::Relaxed)
                        && !more
                        && self.shipping.load(Ordering::Relaxed) == 0
                    {
                        self.ctx.shipper.flush().await;
                    }
                    break;
                }
                let want = self.budget.take(SQS_BATCH as u64);
                if want == 0 {
                    pace.drained = true;
                    break;
                }
                let wait = if pace.nearly_drained {
                    0
                } else {
                    RECEIVE_WAIT_SECS
                };
                receiving.push(Box::pin(self.receive(&queue.url, want, wait)));
            }
            if receiving.is_empty() && batches.is_empty() {
                return pace.drained;
            }
            tokio::select! {
                Some(received) = receiving.next() => match received {
                    Ok(messages) => {
                        if let Some(first) = pace.received(messages.len()) {
                            Counters::add(&self.counters.messages, messages.len() as u64);
                            batches.push(self.handle_batch(queue, first, messages));
                        }
                    }
                    Err(f) => {
                        lock(&self.failure).get_or_insert(f);
                    }
                },
                Some(()) = batches.next() => {}
            }
        }
    }

    /// Closes the delivery epoch in a task of its own: the pump goes on polling its batches
    /// meanwhile (awaited here, it would stop polling the batches the close waits for).
    fn flush_aside(&self) {
        let shipper = self.ctx.shipper.clone();
        tokio::spawn(async move { shipper.flush().await });
    }

    /// Whether another receive may go out now: the run goes on, nothing failed, delivery
    /// allows it (one batch at a time until an epoch reached Devo), and the batches in hand
    /// (`in_flight`: handled, receiving) and the messages held leave room.
    fn may_receive(
        &self,
        gate: PullGate,
        (batches, receiving): (usize, usize),
        held: &Held,
        target: usize,
    ) -> bool {
        let room = match gate {
            PullGate::Closed => false,
            PullGate::Proving => batches == 0 && receiving == 0,
            PullGate::Open => receiving < target,
        };
        room && !self.ctx.should_stop()
            && lock(&self.failure).is_none()
            && self.has_room((batches, receiving), held)
    }

    /// Whether the batches in hand (`in_flight`: handled, receiving) and the messages held leave
    /// room for another receive.
    fn has_room(&self, (batches, receiving): (usize, usize), held: &Held) -> bool {
        batches + receiving < MAX_BATCHES_IN_FLIGHT
            && held.count() + (receiving + 1) * SQS_BATCH <= held.most()
    }

    /// The queue's URL and the attributes the run needs (a dry run warns of its redrive policy).
    async fn open_queue(&self) -> Result<OpenQueue, Failure> {
        let name = self.job.queue_name();
        let url = queue_url(&self.ctx.aws, &self.sqs, self.region, self.job.queue).await?;
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::VisibilityTimeout)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::MessageRetentionPeriod)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| self.aws_failure("GetQueueAttributes", &e))?;
        let number = |name: &QueueAttributeName| {
            attrs
                .attributes()
                .and_then(|a| a.get(name))
                .and_then(|v| v.parse::<u64>().ok())
        };
        let secs = number(&QueueAttributeName::VisibilityTimeout).unwrap_or(30);
        let policy = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
            .map(String::as_str);
        if let Some(warning) = unguarded(policy, self.job.queue.max_receive_count) {
            tracing::warn!(
                message = "Queue without a redrive policy.",
                queue = name,
                region = %self.region,
                warning
            );
        }
        let redrive = policy.and_then(max_receive_count);
        if self.ctx.options.dry_run
            && let Some(max_receive_count) = redrive
        {
            tracing::warn!(
                message = "Dry run: each message received counts toward the queue's redrive policy.",
                queue = name,
                region = %self.region,
                max_receive_count,
                messages_at_most = self.ctx.options.max_messages.unwrap_or(DRY_RUN_MESSAGES)
            );
        }
        Ok(OpenQueue {
            url,
            visibility: Duration::from_secs(secs.max(1)),
            waiting: number(&QueueAttributeName::ApproximateNumberOfMessages),
            retention: number(&QueueAttributeName::MessageRetentionPeriod)
                .map_or(DEFAULT_RETENTION, Duration::from_secs),
        })
    }

    fn aws_failure<E, R>(&self, operation: &str, e: &aws_sdk_sqs::error::SdkError<E, R>) -> Failure
    where
        E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let what = format!(
            "SQS {operation} on {} in {}",
            self.job.queue_name(),
            self.region
        );
        self.ctx.aws.failure(&what, e)
    }

    /// One ReceiveMessage of up to `want` messages, waiting up to `wait` seconds for them;
    /// unused budget goes back.
    async fn receive(&self, url: &str, want: u64, wait: i32) -> Result<Vec<Message>, Failure> {
        let started = Instant::now();
        let received = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(i32::try_from(want).unwrap_or(10))
            .wait_time_seconds(wait)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await;
        match received {
            Ok(out) => {
                let messages = out.messages.unwrap_or_default();
                // A receive that waited for messages says nothing of the latency.
                if let Some(held) = self.held.get()
                    && (wait == 0 || messages.len() == SQS_BATCH)
                {
                    held.timed(started.elapsed());
                }
                self.budget.give_back(want - messages.len() as u64);
                Ok(messages)
            }
            Err(e) => {
                self.budget.give_back(want);
                Err(self.aws_failure("ReceiveMessage", &e))
            }
        }
    }

    /// Handles a received batch message by message, then deletes what was delivered with one
    /// DeleteMessageBatch.
    async fn handle_batch(&self, queue: &OpenQueue, first_seq: u64, messages: Vec<Message>) {
        let Some(held) = self.held.get() else { return };
        let now = Instant::now();
        let mut entries = Vec::with_capacity(messages.len());
        for (seq, m) in (first_seq..).zip(messages) {
            let id = m.message_id.unwrap_or_default();
            let count = m
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|n| n.parse::<u32>().ok());
            let (Some(handle), Some(body)) = (m.receipt_handle, m.body) else {
                tracing::warn!(message = "Message without body or receipt handle, skipped.", message_id = %id);
                Counters::add(&self.counters.failed, 1);
                continue;
            };
            held.insert(
                seq,
                HeldMessage {
                    id: id.clone(),
                    handle,
                },
                now,
            );
            entries.push((seq, id, body, count));
        }
        self.shipping.fetch_add(entries.len(), Ordering::Relaxed);
        let verdicts = if self.job.handler.frames() {
            self.frame_all(queue, held, &entries).await
        } else {
            join_all(entries.iter().map(|(seq, id, body, count)| async move {
                let message = Received {
                    seq: *seq,
                    id,
                    body,
                    receive_count: *count,
                };
                (*seq, self.handle_message(queue, held, message).await)
            }))
            .await
        };
        // Messages to delete stay held (kept invisible) until SQS has answered the delete.
        let mut to_delete = Vec::new();
        for (seq, verdict) in verdicts {
            match verdict {
                // A message lost meanwhile is not ours to delete.
                Verdict::Delete => to_delete.extend(held.get(seq).map(|m| (seq, m))),
                Verdict::Forget => {
                    held.remove(seq);
                }
                Verdict::Hold => {}
            }
        }
        if !to_delete.is_empty() {
            let messages: Vec<HeldMessage> = to_delete.iter().map(|(_, m)| m.clone()).collect();
            delete(&self.sqs, &queue.url, &messages).await;
            for (seq, _) in to_delete {
                held.remove(seq);
            }
        }
    }

    /// `n` messages of received batches are shipped: when they were the last and no receive is
    /// coming, the epoch closes now.
    async fn shipped_some(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.shipped.fetch_add(n, Ordering::Relaxed);
        if self.shipping.fetch_sub(n, Ordering::Relaxed) == n
            && !self.receiving.load(Ordering::Relaxed)
        {
            self.ctx.shipper.flush().await;
        }
    }

    /// A message that cannot be understood: reported and left to the queue's redrive policy, or,
    /// once received `max_receive_count` times (a real run), deleted.
    fn poison(&self, id: &str, received: Option<u32>, reason: &str) -> Verdict {
        Counters::add(&self.counters.failed, 1);
        let most = self.job.queue.max_receive_count;
        let spent = most.is_some_and(|most| received.is_some_and(|n| n >= most));
        let (service, queue) = (self.job.service(), self.job.queue_name());
        if spent && !self.ctx.options.dry_run {
            tracing::error!(
                message = "Message cannot be understood and was received max_receive_count times: deleted.",
                service, queue, region = %self.region, message_id = %id,
                received, max_receive_count = most, error = %reason
            );
            Counters::add(&self.counters.discarded, 1);
            return Verdict::Delete;
        }
        tracing::warn!(
            message = "Message cannot be understood; left to the queue's redrive policy.",
            service, queue, region = %self.region, message_id = %id, error = %reason
        );
        Verdict::Forget
    }

    /// The verdict on a message before it is handled: held when the run must stop, forgotten
    /// when its visibility ran out before its turn (another receiver may be shipping it).
    fn before_handling(&self, held: &Held, seq: u64) -> Option<Verdict> {
        if self.ctx.should_stop() {
            Some(Verdict::Hold)
        } else if held.is_lost(seq) {
            Some(Verdict::Forget)
        } else {
            None
        }
    }

    /// The verdict on a message its handler rejected.
    fn rejected(&self, m: &Received<'_>, rejection: Rejection) -> Verdict {
        match rejection {
            Rejection::Poison(reason) => self.poison(m.id, m.receive_count, &reason),
            Rejection::Failed(f) => {
                Counters::add(&self.counters.failed, 1);
                lock(&self.failure).get_or_insert(f);
                Verdict::Hold
            }
            Rejection::Filtered => {
                lock(&self.filtered).push(m.seq);
                Verdict::Hold
            }
        }
    }

    fn incoming<'m>(&'m self, queue: &OpenQueue, m: &Received<'m>) -> Incoming<'m> {
        Incoming {
            id: m.id,
            body: m.body,
            region: self.region,
            retention: queue.retention,
            receive_count: m.receive_count,
        }
    }

    /// The messages of a received batch, for a handler that frames: the events of all of them in
    /// one batch, one shipment, and each message's verdict by its answer.
    async fn frame_all(
        &self,
        queue: &OpenQueue,
        held: &Held,
        entries: &[(u64, String, String, Option<u32>)],
    ) -> Vec<(u64, Verdict)> {
        let mut verdicts = Vec::with_capacity(entries.len());
        let mut framed = Vec::with_capacity(entries.len());
        let mut batch = self.ctx.framing.batch();
        for (seq, id, body, count) in entries {
            let m = Received {
                seq: *seq,
                id,
                body,
                receive_count: *count,
            };
            let verdict = match self.before_handling(held, m.seq) {
                Some(v) => v,
                None => match self
                    .job
                    .handler
                    .frame(self.incoming(queue, &m), &mut batch)
                    .await
                {
                    Ok(0) => self.after_shipping(Shipped::NOTHING).await,
                    Ok(_) => {
                        framed.push(m.seq);
                        continue;
                    }
                    Err(rejection) => self.rejected(&m, rejection),
                },
            };
            verdicts.push((m.seq, verdict));
        }
        let shipped = self.ctx.shipper.ship_counted(batch).await;
        self.shipped_some(entries.len()).await;
        let verdict = self.after_shipping(shipped).await;
        verdicts.extend(framed.into_iter().map(|seq| (seq, verdict)));
        verdicts
    }

    async fn handle_message(&self, queue: &OpenQueue, held: &Held, m: Received<'_>) -> Verdict {
        if let Some(verdict) = self.before_handling(held, m.seq) {
            self.shipped_some(1).await;
            return verdict;
        }
        let handled = self.job.handler.handle(self.incoming(queue, &m)).await;
        self.shipped_some(1).await;
        match handled {
            Ok(shipped) => self.after_shipping(shipped).await,
            Err(rejection) => self.rejected(&m, rejection),
        }
    }

    /// The verdict on the messages of `shipped`, by its answer.
    async fn after_shipping(&self, shipped: Shipped) -> Verdict {
        let (events, bytes) = (shipped.events, shipped.bytes);
        let nothing_shipped = shipped.receipt.is_none();
        match shipped.answer().await.outcome() {
            // Nothing to ship; a dry run still acknowledges nothing.
            Ok(_) if nothing_shipped && self.ctx.options.dry_run => Verdict::Hold,
            Ok(_) if nothing_shipped => Verdict::Delete,
            Ok(answer) => {
                Counters::add(&self.counters.events, events);
                Counters::add(&self.counters.bytes, bytes);
                // Dry run: printed, held until the region ends, then released.
                if answer.is_delivered() {
                    Verdict::Delete
                } else {
                    Verdict::Hold
                }
            }
            Err(f) => {
                Counters::add(&self.counters.failed, 1);
                lock(&self.failure).get_or_insert(f);
                Verdict::Hold
            }
        }
    }
}

/// One received message, as the consumer hands it to its handler.
struct Received<'a> {
    /// Its place in the region's receive order (the key of what is held).
    seq: u64,
    id: &'a str,
    body: &'a str,
    receive_count: Option<u32>,
}

/// What the run needs to know of a queue.
struct OpenQueue {
    url: String,
    visibility: Duration,
    /// About how many messages wait in it.
    waiting: Option<u64>,
    retention: Duration,
}

/// The URL of `queue` in `region`: the one the config gave, else GetQueueUrl's answer.
pub async fn queue_url(
    aws: &Aws,
    sqs: &Client,
    region: &str,
    queue: &QueuePlan,
) -> Result<String, Failure> {
    if let Some(url) = &queue.url {
        return Ok(url.clone());
    }
    let name = &queue.name;
    sqs.get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| aws.failure(&format!("SQS queue {name} in {region}"), &e))?
        .queue_url
        .ok_or_else(|| {
            Failure::new(
                Outcome::Temporary,
                format!("SQS returned no URL for queue {name}"),
            )
        })
}

/// What to say of a queue whose `RedrivePolicy` is `policy` when the service's
/// `max_receive_count` is `ours`: nothing when a message that cannot be understood ends
/// somewhere (a dead-letter queue, or our own count); else that it would come back until the
/// queue's retention ends.
pub fn unguarded(policy: Option<&str>, ours: Option<u32>) -> Option<String> {
    if ours.is_some() || policy.and_then(max_receive_count).is_some() {
        return None;
    }
    Some(
        "it has no redrive policy: a message devo-aws cannot understand comes back every run until the queue's retention ends. Give it a dead-letter queue, or set max_receive_count".into(),
    )
}

/// `maxReceiveCount` of a queue's `RedrivePolicy` attribute (JSON; SQS writes the number as a
/// number or a string).
fn max_receive_count(policy: &str) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_str(policy).ok()?;
    match value.get("maxReceiveCount")? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// DeleteMessageBatch, reporting entries SQS refused (they come back: a duplicate, not a loss).
async fn delete(sqs: &Client, url: &str, messages: &[HeldMessage]) {
    let entries: Vec<_> = messages
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(&m.handle)
                .build()
                .ok()
        })
        .collect();
    match sqs
        .delete_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await
    {
        Ok(out) => {
            for f in out.failed() {
                let id = f
                    .id()
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| messages.get(i))
                    .map(|m| m.id.as_str());
                tracing::warn!(
                    message =
                        "SQS refused to delete a delivered message; it will be delivered again.",
                    message_id = id.unwrap_or("?"),
                    code = f.code(),
                    reason = f.message().unwrap_or_default()
                );
            }
        }
        Err(e) => tracing::warn!(
            message = "DeleteMessageBatch failed; these delivered messages will be delivered again.",
            count = messages.len(),
            error = %aws_error(&e)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_RECEIVES_IN_FLIGHT, ReceivePace, max_receive_count};

    /// A backlog starts as many receives as it fills (a queue of 20,000 needs no ramp of four
    /// round trips); a short batch brings it back to one, full ones double it again.
    #[test]
    fn receives_start_at_what_the_backlog_fills() {
        let most = MAX_RECEIVES_IN_FLIGHT;
        let start = |waiting| ReceivePace::new(waiting).target;
        assert_eq!(start(None), 1);
        assert_eq!(start(Some(0)), 1);
        assert_eq!(start(Some(9)), 1);
        assert_eq!(start(Some(35)), 3);
        assert_eq!(start(Some(20_000)), most);
        let mut pace = ReceivePace::new(Some(20_000));
        assert_eq!(pace.received(10), Some(0));
        assert_eq!(pace.received(4), Some(10));
        assert_eq!((pace.target, pace.nearly_drained), (1, true));
        pace.received(10);
        pace.received(10);
        assert_eq!(pace.target, 4);
        assert_eq!(pace.received(0), None);
        assert!(pace.drained);
    }

    #[test]
    fn redrive_policy_max_receive_count_as_number_or_string() {
        assert_eq!(
            max_receive_count(
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:dlq","maxReceiveCount":2}"#
            ),
            Some(2)
        );
        assert_eq!(max_receive_count(r#"{"maxReceiveCount":"5"}"#), Some(5));
        assert_eq!(max_receive_count("not json"), None);
    }
}
