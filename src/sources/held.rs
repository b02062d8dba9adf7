//! The messages a region holds, and the keeper that keeps them invisible.
//!
//! A received message is invisible to other receivers for the queue's visibility timeout. While
//! this run holds it (handling it, waiting for its receipt, or waiting to give it back), the
//! keeper extends it early, once a third of the timeout has passed: due messages go out ten to a
//! ChangeMessageVisibilityBatch, [`EXTENSIONS_IN_FLIGHT`] calls at once, so a sweep of a
//! thousand messages takes a few round trips, not a hundred. Each entry's answer is read: a
//! message SQS would not extend (its visibility ran out, and another receiver may hold it now)
//! is *lost*: it is no longer held, never shipped if it was not yet, and never deleted (its
//! receipt handle is stale; the receiver that holds it deletes it).
//!
//! How many messages a region may hold is bounded by what the keeper can extend in time: the
//! window between a message's first extension and its expiry, over the calls' measured latency
//! (receives and extensions), times the messages one sweep extends at once; receiving waits
//! while the region holds that many.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::time::Instant;

use crate::aws::aws_error;
use crate::lock;

/// SQS's own limit of entries per batch call.
pub const SQS_BATCH: usize = 10;
/// ChangeMessageVisibilityBatch calls a keeper makes at once.
pub const EXTENSIONS_IN_FLIGHT: usize = 16;
/// The most messages a region holds, whatever the keeper could extend.
pub const MOST_HELD: usize = 2_000;
/// The latency assumed until calls have been timed.
const FIRST_LATENCY: Duration = Duration::from_millis(50);

/// A received message we hold: its id (for reports) and receipt handle.
#[derive(Clone)]
pub struct HeldMessage {
    pub id: String,
    pub handle: String,
}

/// The messages one region holds, by receive order.
pub struct Held {
    visibility: Duration,
    /// Each message, with when its visibility was last set.
    map: Mutex<HashMap<u64, (HeldMessage, Instant)>>,
    /// Messages whose visibility ran out while held.
    lost: Mutex<HashSet<u64>>,
    /// The latency of SQS calls, smoothed, in microseconds.
    latency_us: AtomicU64,
}

impl Held {
    pub fn new(visibility: Duration) -> Self {
        Self {
            visibility,
            map: Mutex::default(),
            lost: Mutex::default(),
            latency_us: AtomicU64::new(FIRST_LATENCY.as_micros() as u64),
        }
    }

    /// Holds `message`, received at `at`.
    pub fn insert(&self, seq: u64, message: HeldMessage, at: Instant) {
        lock(&self.map).insert(seq, (message, at));
    }

    /// Lets go of a message (to delete it, or because it is poison): none when it was lost.
    pub fn remove(&self, seq: u64) -> Option<HeldMessage> {
        lock(&self.map).remove(&seq).map(|(m, _)| m)
    }

    /// A message still held.
    pub fn get(&self, seq: u64) -> Option<HeldMessage> {
        lock(&self.map).get(&seq).map(|(m, _)| m.clone())
    }

    /// Lets go of every message still held.
    pub fn drain(&self) -> Vec<HeldMessage> {
        lock(&self.map).drain().map(|(_, (m, _))| m).collect()
    }

    /// How many messages are held.
    pub fn count(&self) -> usize {
        lock(&self.map).len()
    }

    /// Whether the message's visibility ran out while it was held.
    pub fn is_lost(&self, seq: u64) -> bool {
        lock(&self.lost).contains(&seq)
    }

    /// Messages lost so far.
    pub fn lost(&self) -> usize {
        lock(&self.lost).len()
    }

    /// Counts one SQS call's latency.
    pub fn timed(&self, took: Duration) {
        let us = took.as_micros().min(u128::from(u32::MAX)) as u64;
        let _ = self
            .latency_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some((old * 7 + us) / 8)
            });
    }

    fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Ordering::Relaxed).max(1))
    }

    /// When a message is extended: a third of the visibility after it was last set.
    fn due_after(&self) -> Duration {
        self.visibility / 3
    }

    /// How often the keeper looks for due messages.
    pub fn tick(&self) -> Duration {
        (self.visibility / 6).clamp(Duration::from_millis(100), Duration::from_secs(5))
    }

    /// The most messages the keeper can extend in time: between a message's due time and its
    /// expiry (less one tick), as many sweeps as the measured latency allows, each of
    /// [`EXTENSIONS_IN_FLIGHT`] calls of ten; half of that, for a margin; at most [`MOST_HELD`].
    pub fn most(&self) -> usize {
        let window = self
            .visibility
            .saturating_sub(self.due_after())
            .saturating_sub(self.tick());
        let sweeps = (window.as_secs_f64() / self.latency().as_secs_f64()).floor() as usize;
        (sweeps * EXTENSIONS_IN_FLIGHT * SQS_BATCH / 2).clamp(SQS_BATCH, MOST_HELD)
    }

    /// The messages due for an extension.
    fn due(&self, now: Instant) -> Vec<(u64, HeldMessage)> {
        let after = self.due_after();
        lock(&self.map)
            .iter()
            .filter(|(_, (_, since))| now.duration_since(*since) >= after)
            .map(|(seq, (m, _))| (*seq, m.clone()))
            .collect()
    }

    /// Messages extended by a call that went out at `at`.
    fn extended(&self, seqs: &[u64], at: Instant) {
        let mut map = lock(&self.map);
        for seq in seqs {
            if let Some((_, since)) = map.get_mut(seq) {
                *since = at;
            }
        }
    }

    /// A message SQS would not extend: no longer ours, if we still held it (one deleted
    /// meanwhile is refused too, and is no loss).
    fn lose(&self, seq: u64) -> Option<HeldMessage> {
        let message = self.remove(seq)?;
        lock(&self.lost).insert(seq);
        Some(message)
    }
}

/// Extends due messages until aborted.
pub async fn keep_visible(sqs: Client, url: String, held: std::sync::Arc<Held>) {
    let seconds = i32::try_from(held.visibility.as_secs()).unwrap_or(i32::MAX);
    let mut tick = tokio::time::interval(held.tick());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let due = held.due(Instant::now());
        if due.is_empty() {
            continue;
        }
        tracing::debug!(
            message = "Extending visibility of held messages.",
            count = due.len()
        );
        let answers = change_visibility(&sqs, &url, &due, seconds, &held).await;
        for (seqs, at, refused) in answers {
            held.extended(&seqs, at);
            for (seq, why) in refused {
                if let Some(message) = held.lose(seq) {
                    tracing::warn!(
                        message = "A held message's visibility ran out before it could be extended: another receiver may have it; this run neither ships nor deletes it.",
                        message_id = %message.id,
                        reason = why
                    );
                }
            }
        }
    }
}

/// One batch call's answer: the messages it changed, when it went out, and those SQS refused
/// (with why).
type Answer = (Vec<u64>, Instant, Vec<(u64, String)>);

/// Sets the visibility of `messages` to `seconds`, ten to a call, [`EXTENSIONS_IN_FLIGHT`]
/// calls at once; each call's latency is counted. A call that failed as a whole changed nothing
/// (reported; its messages are tried again on the next sweep).
pub async fn change_visibility(
    sqs: &Client,
    url: &str,
    messages: &[(u64, HeldMessage)],
    seconds: i32,
    held: &Held,
) -> Vec<Answer> {
    let mut calls = messages
        .chunks(SQS_BATCH)
        .map(|chunk| change_batch(sqs, url, chunk, seconds, held));
    let mut running = FuturesUnordered::new();
    let mut answers = Vec::new();
    loop {
        while running.len() < EXTENSIONS_IN_FLIGHT {
            let Some(call) = calls.next() else { break };
            running.push(call);
        }
        match running.next().await {
            Some(answer) => answers.extend(answer),
            None => return answers,
        }
    }
}

/// One ChangeMessageVisibilityBatch call of up to ten messages.
async fn change_batch(
    sqs: &Client,
    url: &str,
    chunk: &[(u64, HeldMessage)],
    seconds: i32,
    held: &Held,
) -> Option<Answer> {
    let entries: Vec<_> = chunk
        .iter()
        .filter_map(|(seq, m)| {
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(seq.to_string())
                .receipt_handle(&m.handle)
                .visibility_timeout(seconds)
                .build()
                .ok()
        })
        .collect();
    let at = Instant::now();
    let answer = sqs
        .change_message_visibility_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await;
    held.timed(at.elapsed());
    match answer {
        Ok(out) => {
            let refused: Vec<(u64, String)> = out
                .failed()
                .iter()
                .filter_map(|f| {
                    let seq = f.id().parse::<u64>().ok()?;
                    let why = format!("{}: {}", f.code(), f.message().unwrap_or_default());
                    Some((seq, why))
                })
                .collect();
            let changed = chunk
                .iter()
                .map(|(seq, _)| *seq)
                .filter(|seq| refused.iter().all(|(r, _)| r != seq))
                .collect();
            Some((changed, at, refused))
        }
        Err(e) => {
            tracing::warn!(
                message = "ChangeMessageVisibilityBatch failed.",
                count = chunk.len(),
                visibility_seconds = seconds,
                error = %aws_error(&e)
            );
            None
        }
    }
}

/// Gives held messages back to the queue at once (visibility 0).
pub async fn release(sqs: &Client, url: &str, messages: Vec<HeldMessage>, held: &Held) {
    if messages.is_empty() {
        return;
    }
    tracing::info!(
        message = "Releasing messages not acknowledged.",
        count = messages.len()
    );
    let numbered: Vec<(u64, HeldMessage)> = (0..).zip(messages).collect();
    change_visibility(sqs, url, &numbered, 0, held).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound follows the visibility and the latency: a short visibility or slow calls hold
    /// fewer messages, and never fewer than one batch nor more than [`MOST_HELD`].
    #[test]
    fn the_messages_held_are_what_the_keeper_can_extend_in_time() {
        let held = |visibility_secs: f64, latency_ms: u64| {
            let h = Held::new(Duration::from_secs_f64(visibility_secs));
            for _ in 0..64 {
                h.timed(Duration::from_millis(latency_ms));
            }
            h.most()
        };
        assert_eq!(held(30.0, 28), MOST_HELD);
        assert_eq!(held(5.0, 28), MOST_HELD);
        let short = held(1.0, 28);
        assert!((500..MOST_HELD).contains(&short), "{short}");
        assert!(held(1.0, 300) < short);
        assert_eq!(held(1.0, 5_000), SQS_BATCH);
    }
}
