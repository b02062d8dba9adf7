//! The SQS consumer every queue-fed service is built on.
//!
//! Per region: ReceiveMessage 10 at a time with a short wait until the queue is drained, the
//! message budget is spent or the run's deadline passes. Each received batch is parsed, tagged,
//! framed and handed to the shipper; a task per batch waits for its receipt and then deletes the
//! batch with one DeleteMessageBatch. Nothing is deleted before its receipt says Delivered.
//!
//! Messages whose receipt did not come back Delivered (dry run, Devo failure) stay held until
//! the region is done and then go back to the queue at once (visibility 0); while held, a keeper
//! extends their visibility once half of it has passed. A message that cannot be understood is
//! reported with its id and left alone, so the queue's redrive policy deals with it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    QueueAttributeName,
};
use futures_util::future::join_all;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::aws::{aws_error, is_credentials_error};
use crate::cycle::{Counters, Failure, Outcome, RunContext};
use crate::devo::shipper::Receipt;
use crate::formats::FormatError;
use crate::formats::eventbridge::AwsEvent;
use crate::sources::TagRule;

/// SQS's own limit of messages per ReceiveMessage and per batch call.
const SQS_BATCH: usize = 10;
/// Long-poll wait of each receive: short, but long enough to ask every SQS server.
const RECEIVE_WAIT_SECS: i32 = 1;
/// Received batches waiting for their receipt, per region (bounds held messages).
const MAX_BATCHES_IN_FLIGHT: usize = 200;

/// Turns one message body into events, or says why it cannot.
pub trait MessageParser: Sync {
    fn parse(&self, body: &str) -> Result<Vec<AwsEvent>, FormatError>;
}

/// What to consume and how to tag it.
pub struct QueueJob<'a, P> {
    pub service: &'static str,
    pub queue_name: &'a str,
    pub regions: &'a [String],
    pub parser: &'a P,
    pub tags: &'a TagRule,
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
pub async fn consume<P: MessageParser>(
    ctx: &RunContext,
    job: &QueueJob<'_, P>,
    counters: &Arc<Counters>,
) -> Option<Failure> {
    let budget = MessageBudget(ctx.options.max_messages.map(AtomicU64::new));
    let results = join_all(job.regions.iter().map(|region| {
        let region_run = RegionRun {
            ctx,
            job,
            region,
            sqs: ctx.aws.sqs(region),
            counters: counters.clone(),
            budget: &budget,
        };
        async move {
            let result = region_run.run().await;
            if let Some(f) = &result {
                tracing::error!(
                    message = "Region failed.",
                    service = job.service,
                    region = %region,
                    queue = job.queue_name,
                    error = %f
                );
            }
            result
        }
    }))
    .await;
    results.into_iter().flatten().max_by_key(|f| f.outcome)
}

/// A received message we still hold: its id (for reports) and receipt handle.
#[derive(Clone)]
struct HeldMessage {
    id: String,
    handle: String,
}

/// Batches of one region still held, by batch number, with when their visibility was last set.
type HeldMap = Arc<Mutex<HashMap<u64, (Vec<HeldMessage>, Instant)>>>;

fn lock(held: &HeldMap) -> std::sync::MutexGuard<'_, HashMap<u64, (Vec<HeldMessage>, Instant)>> {
    held.lock().unwrap_or_else(PoisonError::into_inner)
}

struct RegionRun<'a, P> {
    ctx: &'a RunContext,
    job: &'a QueueJob<'a, P>,
    region: &'a str,
    sqs: Client,
    counters: Arc<Counters>,
    budget: &'a MessageBudget,
}

impl<P: MessageParser> RegionRun<'_, P> {
    async fn run(&self) -> Option<Failure> {
        let (url, visibility) = match self.open_queue().await {
            Ok(v) => v,
            Err(f) => return Some(f),
        };
        let held: HeldMap = Arc::default();
        let failure: Arc<Mutex<Option<Failure>>> = Arc::default();
        let keeper = tokio::spawn(keep_visible(
            self.sqs.clone(),
            url.clone(),
            visibility,
            held.clone(),
        ));
        let mut acks = JoinSet::new();
        let receive_failure = self.receive_loop(&url, &held, &failure, &mut acks).await;
        while acks.join_next().await.is_some() {}
        keeper.abort();
        let still_held: Vec<HeldMessage> = lock(&held).drain().flat_map(|(_, (m, _))| m).collect();
        release(&self.sqs, &url, &still_held).await;
        let ship_failure = failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        [receive_failure, ship_failure]
            .into_iter()
            .flatten()
            .max_by_key(|f| f.outcome)
    }

    /// The queue's URL and visibility timeout.
    async fn open_queue(&self) -> Result<(String, Duration), Failure> {
        let name = self.job.queue_name;
        let url = self
            .sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| {
                let code = e.as_service_error().map(|s| s.is_queue_does_not_exist());
                let outcome = if code == Some(true) || is_credentials_error(&e) {
                    Outcome::Config
                } else {
                    Outcome::Temporary
                };
                Failure::new(
                    outcome,
                    format!("SQS queue {name} in {}: {}", self.region, aws_error(&e)),
                )
            })?
            .queue_url
            .ok_or_else(|| {
                Failure::new(
                    Outcome::Temporary,
                    format!("SQS returned no URL for queue {name}"),
                )
            })?;
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::VisibilityTimeout)
            .send()
            .await
            .map_err(|e| self.aws_failure("GetQueueAttributes", &e))?;
        let secs = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::VisibilityTimeout))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(30);
        Ok((url, Duration::from_secs(secs.max(1))))
    }

    fn aws_failure<E, R>(&self, operation: &str, e: &aws_sdk_sqs::error::SdkError<E, R>) -> Failure
    where
        E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let outcome = if is_credentials_error(e) {
            Outcome::Config
        } else {
            Outcome::Temporary
        };
        Failure::new(
            outcome,
            format!(
                "SQS {operation} on {} in {}: {}",
                self.job.queue_name,
                self.region,
                aws_error(e)
            ),
        )
    }

    async fn receive_loop(
        &self,
        url: &str,
        held: &HeldMap,
        failure: &Arc<Mutex<Option<Failure>>>,
        acks: &mut JoinSet<()>,
    ) -> Option<Failure> {
        let mut batch_no = 0u64;
        loop {
            if self.ctx.should_stop()
                || failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_some()
            {
                return None;
            }
            while acks.len() >= MAX_BATCHES_IN_FLIGHT {
                acks.join_next().await;
            }
            let want = self.budget.take(SQS_BATCH as u64);
            if want == 0 {
                return None;
            }
            let received = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(want as i32)
                .wait_time_seconds(RECEIVE_WAIT_SECS)
                .send()
                .await;
            let messages = match received {
                Ok(out) => out.messages.unwrap_or_default(),
                Err(e) => {
                    self.budget.give_back(want);
                    return Some(self.aws_failure("ReceiveMessage", &e));
                }
            };
            self.budget.give_back(want - messages.len() as u64);
            if messages.is_empty() {
                return None;
            }
            Counters::add(&self.counters.messages, messages.len() as u64);
            batch_no += 1;
            match self.ship_batch(messages).await {
                Ok(Some(shipped)) => {
                    lock(held).insert(batch_no, (shipped.messages.clone(), Instant::now()));
                    acks.spawn(acknowledge(
                        self.sqs.clone(),
                        url.to_string(),
                        batch_no,
                        shipped,
                        held.clone(),
                        failure.clone(),
                        self.counters.clone(),
                    ));
                }
                Ok(None) => {}
                Err(f) => return Some(f),
            }
        }
    }

    /// Parses, tags and frames one received batch and hands it to the shipper. Returns the
    /// messages the shipment covers, or None when every message was poison.
    async fn ship_batch(&self, messages: Vec<Message>) -> Result<Option<Shipped>, Failure> {
        let mut batch = self.ctx.framing.batch();
        let mut taken = Vec::with_capacity(messages.len());
        for m in messages {
            let id = m.message_id.unwrap_or_default();
            let (Some(handle), Some(body)) = (m.receipt_handle, m.body) else {
                tracing::warn!(message = "Message without body or receipt handle, skipped.", message_id = %id);
                Counters::add(&self.counters.failed, 1);
                continue;
            };
            let events = match self.job.parser.parse(&body) {
                Ok(events) => events,
                Err(e) => {
                    // Left invisible: after its visibility timeout the redrive policy counts it.
                    tracing::warn!(
                        message = "Message cannot be understood; left to the queue's redrive policy.",
                        service = self.job.service,
                        queue = self.job.queue_name,
                        region = %self.region,
                        message_id = %id,
                        error = %e
                    );
                    Counters::add(&self.counters.failed, 1);
                    continue;
                }
            };
            for event in &events {
                let tag = self.job.tags.tag(event, self.region, &self.ctx.aws).await?;
                batch.push(&tag, &event.message);
            }
            taken.push(HeldMessage { id, handle });
        }
        if taken.is_empty() {
            return Ok(None);
        }
        let (events, bytes) = (batch.events(), batch.len() as u64);
        Ok(Some(Shipped {
            messages: taken,
            events,
            bytes,
            receipt: self.ctx.shipper.ship(batch).await,
        }))
    }
}

/// One received batch handed to the shipper.
struct Shipped {
    messages: Vec<HeldMessage>,
    events: u64,
    bytes: u64,
    receipt: tokio::sync::oneshot::Receiver<Receipt>,
}

/// Waits for one batch's receipt; deletes the batch once Devo has it.
async fn acknowledge(
    sqs: Client,
    url: String,
    batch_no: u64,
    shipped: Shipped,
    held: HeldMap,
    failure: Arc<Mutex<Option<Failure>>>,
    counters: Arc<Counters>,
) {
    let receipt = shipped.receipt.await.unwrap_or_else(|_| {
        Receipt::Failed(Arc::new(crate::devo::shipper::ShipError {
            message: "the shipper stopped before answering".into(),
            certificate_rejected: false,
        }))
    });
    match receipt {
        Receipt::Delivered => {
            Counters::add(&counters.events, shipped.events);
            Counters::add(&counters.bytes, shipped.bytes);
            lock(&held).remove(&batch_no);
            delete(&sqs, &url, &shipped.messages).await;
        }
        // Dry run: stays held until the region ends, then is released.
        Receipt::Printed => {
            Counters::add(&counters.events, shipped.events);
            Counters::add(&counters.bytes, shipped.bytes);
        }
        Receipt::Failed(e) => {
            let outcome = if e.certificate_rejected {
                Outcome::Config
            } else {
                Outcome::Temporary
            };
            let mut f = failure.lock().unwrap_or_else(PoisonError::into_inner);
            f.get_or_insert_with(|| Failure::new(outcome, e.message.clone()));
            Counters::add(&counters.failed, shipped.messages.len() as u64);
        }
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

/// Sets the visibility of `messages` to `seconds`, 10 at a time.
async fn set_visibility(sqs: &Client, url: &str, messages: &[HeldMessage], seconds: i32) {
    for chunk in messages.chunks(SQS_BATCH) {
        let entries: Vec<_> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&m.handle)
                    .visibility_timeout(seconds)
                    .build()
                    .ok()
            })
            .collect();
        if let Err(e) = sqs
            .change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            tracing::warn!(
                message = "ChangeMessageVisibilityBatch failed.",
                count = chunk.len(),
                visibility_seconds = seconds,
                error = %aws_error(&e)
            );
        }
    }
}

/// Gives held messages back to the queue at once.
async fn release(sqs: &Client, url: &str, messages: &[HeldMessage]) {
    if !messages.is_empty() {
        tracing::info!(
            message = "Releasing messages not acknowledged.",
            count = messages.len()
        );
        set_visibility(sqs, url, messages, 0).await;
    }
}

/// Extends the visibility of batches held for more than half of it, until aborted.
async fn keep_visible(sqs: Client, url: String, visibility: Duration, held: HeldMap) {
    let half = visibility / 2;
    let mut tick = tokio::time::interval(
        (visibility / 4).clamp(Duration::from_millis(250), Duration::from_secs(5)),
    );
    loop {
        tick.tick().await;
        let due: Vec<HeldMessage> = {
            let mut map = lock(&held);
            let now = Instant::now();
            map.values_mut()
                .filter(|(_, since)| now.duration_since(*since) >= half)
                .flat_map(|(messages, since)| {
                    *since = now;
                    messages.clone()
                })
                .collect()
        };
        if !due.is_empty() {
            tracing::debug!(
                message = "Extending visibility of held messages.",
                count = due.len()
            );
            set_visibility(
                &sqs,
                &url,
                &due,
                i32::try_from(visibility.as_secs()).unwrap_or(i32::MAX),
            )
            .await;
        }
    }
}
