//! Objects delivered in part: how far each object being read has reached Devo, kept in the state
//! as it grows, so that a run that leaves an object in the middle (a stop signal, the deadline,
//! a read that broke off, a kill) does not make the next run ship that part again.
//!
//! An object's [`ObjectSink`] ships its batches and sees their receipts come back in order. Each
//! time the delivered prefix of an object still being read grows, it notes it with
//! [`PartialNotes`], which writes the latest notes in one state update at a time (notes made
//! during a write go with the one that follows it at once). Small objects, delivered in one
//! epoch, never write. An object left in the middle waits for the receipts of what it shipped
//! and writes how far they reach. One delivered whole has its note forgotten with the next write, or at the end of the
//! service's run ([`PartialNotes::flush`]), never by a write of its own: a note only ever says
//! what did reach Devo, so one left behind (the run died first) is true, and it goes with its
//! message's retention.
//!
//! The position is counted in records (events, and the records dropped or skipped as bad among
//! them, in the order the decoder reads them): decoding is deterministic, so the next read of the
//! same object (the same ETag) passes over exactly those.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::cycle::Counters;
use crate::devo::frame::FrameBatch;
use crate::devo::shipper::{Outbox, Pending, Receipt, Shipped};
use crate::state::{ObjectNote, PartialObject, ServiceHandle};

/// Notes on objects delivered in part, written to the state one update at a time.
pub struct PartialNotes {
    state: Arc<ServiceHandle>,
    notes: Mutex<Notes>,
    writing: tokio::sync::Mutex<()>,
}

/// A (message, object).
type Key = (String, String);

#[derive(Default)]
struct Notes {
    /// The latest note of each (message, object) not written yet.
    pending: BTreeMap<Key, ObjectNote>,
    /// The objects of which this run sent a note in part to a write and has not forgotten since:
    /// those the state may hold, whose forgetting is written.
    sent: BTreeSet<Key>,
}

impl Notes {
    /// A note in part waits to be written (forgotten ones alone wait for it, or the end).
    fn partial_waits(&self) -> bool {
        self.pending
            .values()
            .any(|n| matches!(n, ObjectNote::Partial { .. }))
    }
}

impl PartialNotes {
    pub fn new(state: Arc<ServiceHandle>) -> Self {
        Self {
            state,
            notes: Mutex::default(),
            writing: tokio::sync::Mutex::new(()),
        }
    }

    fn push(&self, message_id: &str, note: ObjectNote) {
        let key = (message_id.to_string(), note.object().to_string());
        crate::lock(&self.notes).pending.insert(key, note);
    }

    /// Forgets the note of an object delivered whole, with the next write. One this run never
    /// sent to a write, nor an earlier run (`earlier`), is only taken out of what waits.
    fn forget(&self, message_id: &str, object: &str, earlier: bool) {
        let key = (message_id.to_string(), object.to_string());
        let mut notes = crate::lock(&self.notes);
        if earlier || notes.sent.contains(&key) {
            let whole = ObjectNote::Whole {
                object: object.to_string(),
            };
            notes.pending.insert(key, whole);
        } else {
            notes.pending.remove(&key);
        }
    }

    /// Notes progress as it goes: written now, or by the write in progress, so an object's
    /// reading never waits for another's write. A write that fails is reported; the note stays
    /// for the next.
    async fn note(&self, message_id: &str, note: ObjectNote) {
        self.push(message_id, note);
        self.write_while_waiting().await;
    }

    /// Writes while a note in part waits and no other write is under way. Every writer looks
    /// again once it has let go of the lock (here, and in `write_now`): a note pushed
    /// after the writer's last look found the lock taken, and is left to that writer.
    async fn write_while_waiting(&self) {
        while crate::lock(&self.notes).partial_waits() {
            let Ok(writing) = self.writing.try_lock() else {
                return;
            };
            let written = self.write_pending(false).await;
            drop(writing);
            if let Err(e) = written {
                tracing::warn!(message = "Could not save how far an object was delivered; a run that dies now ships that part again.", error = %e);
                return;
            }
        }
    }

    /// Writes every note not written yet, the forgotten ones too: at the end of the service's run.
    pub async fn flush(&self) {
        if let Err(e) = self.write_now(true).await {
            tracing::warn!(message = "Could not forget how far objects delivered whole were delivered; their notes are dropped with their messages' retention.", error = %e);
        }
    }

    /// Notes and writes before returning: what a run that leaves an object says of it.
    async fn note_now(
        &self,
        message_id: &str,
        note: ObjectNote,
    ) -> Result<(), crate::state::StateError> {
        self.push(message_id, note);
        self.write_now(false).await
    }

    /// Waits for the write under way, writes (see `write_pending`), then looks again for notes
    /// pushed meanwhile.
    async fn write_now(&self, all: bool) -> Result<(), crate::state::StateError> {
        let written = {
            let _writing = self.writing.lock().await;
            self.write_pending(all).await
        };
        self.write_while_waiting().await;
        written
    }

    /// Writes the notes waiting, in one state update at a time, as long as a note in part waits
    /// (`all`: as long as any does). Notes forgotten go with them: a note only says what did
    /// reach Devo, so one that outlives its object (the run died first) is still true, and a
    /// state write of their own would cost more than the notes.
    async fn write_pending(&self, all: bool) -> Result<(), crate::state::StateError> {
        loop {
            let taken = {
                let mut notes = crate::lock(&self.notes);
                if !all && !notes.partial_waits() {
                    return Ok(());
                }
                let taken = std::mem::take(&mut notes.pending);
                for (key, note) in &taken {
                    if matches!(note, ObjectNote::Partial { .. }) {
                        notes.sent.insert(key.clone());
                    } else {
                        notes.sent.remove(key);
                    }
                }
                taken
            };
            if taken.is_empty() {
                return Ok(());
            }
            tracing::debug!(message = "Writing object notes.", notes = taken.len());
            let written: Vec<(String, ObjectNote)> = taken
                .into_iter()
                .map(|((message_id, _), note)| (message_id, note))
                .collect();
            if let Err(e) = self.state.note_objects(&written).await {
                // Kept for the next write, unless a newer note came meanwhile.
                let mut notes = crate::lock(&self.notes);
                for (message_id, note) in written {
                    let key = (message_id, note.object().to_string());
                    notes.pending.entry(key).or_insert(note);
                }
                return Err(e);
            }
        }
    }
}

/// Whose notes an object's sink writes: the object's message, name and ETag.
pub struct Track {
    pub notes: Arc<PartialNotes>,
    pub message_id: String,
    pub object: String,
    pub etag: Option<String>,
    /// When the message's queue drops it anyway: the note is useless after.
    pub expires: DateTime<Utc>,
}

/// Where an object's framed batches go: the run's [`Outbox`], each batch marked with the records
/// read from the start of the object through it, their answers watched in order.
pub struct ObjectSink {
    outbox: Outbox<u64>,
    /// A receipt seen failed (every later one fails too).
    failed: Option<Receipt>,
    /// Records delivered from the start of the object, as far as receipts have told.
    delivered: u64,
    /// Records delivered by earlier runs.
    start: u64,
    track: Option<Track>,
    /// A note of this object was made, in this run or an earlier one: to be forgotten once it
    /// is delivered whole.
    noted: bool,
}

impl ObjectSink {
    /// The sink of an object whose first `delivered` records reached Devo in earlier runs.
    pub fn new(outbox: Outbox<u64>, track: Option<Track>, delivered: u64) -> Self {
        Self {
            outbox,
            failed: None,
            delivered,
            start: delivered,
            track,
            noted: delivered > 0,
        }
    }

    /// Ships a batch holding the records read through `through`.
    pub async fn ship(&mut self, batch: FrameBatch, through: u64) {
        self.outbox.ship(batch, through).await;
        let before = self.delivered;
        self.take_answered_receipts();
        if self.delivered > before {
            self.note_progress().await;
        }
    }

    /// Notes how far the object was delivered, as it goes (see [`PartialNotes::note`]).
    async fn note_progress(&mut self) {
        if let Some(track) = &self.track {
            self.noted = true;
            track
                .notes
                .note(&track.message_id, partial(track, self.delivered))
                .await;
        }
    }

    /// Takes in the receipts already answered, oldest first.
    fn take_answered_receipts(&mut self) {
        while self.failed.is_none()
            && let Some((batch, answer)) = self.outbox.answered()
        {
            match answer {
                Receipt::Delivered => self.delivered = batch.mark,
                Receipt::Printed => {}
                failed @ Receipt::Failed(_) => self.failed = Some(failed),
            }
        }
    }

    /// The object was read to its end: what was shipped, with a receipt for all of it. An object
    /// a message announced is settled in a task of its own: its receipts are awaited in order
    /// and how far they reach is noted as they come, so that a run that dies, or fails later
    /// (its time for delivery, a Devo failure), does not lose what was delivered of it; once all
    /// of it is delivered its note is forgotten (with the next write: see the module's note).
    /// Otherwise the receipt is that of the last batch (which speaks for all).
    pub async fn finish(mut self) -> Shipped {
        if self.track.is_none() {
            let failed = self.failed.take();
            let mut shipped = self.outbox.finish().await;
            if let Some(failed) = failed {
                shipped.receipt = Some(Pending::ready(failed));
            }
            return shipped;
        }
        let (events, bytes) = self.outbox.shipped();
        let receipt = if !self.outbox.waiting() && self.failed.is_none() {
            // Nothing left to wait for (what there was, earlier runs delivered).
            self.forget_note();
            None
        } else {
            let (tx, answer) = Pending::channel();
            tokio::spawn(async move {
                let _ = tx.send(self.settle().await);
            });
            Some(answer)
        };
        Shipped {
            receipt,
            events,
            bytes,
        }
    }

    /// The object was delivered whole: its note, if it has one (this run's or an earlier one's),
    /// is forgotten with the next write.
    fn forget_note(&self) {
        if let Some(track) = self.track.as_ref().filter(|_| self.noted) {
            track
                .notes
                .forget(&track.message_id, &track.object, self.start > 0);
        }
    }

    /// Waits for the receipts of an object read to its end; the answer for all of it.
    async fn settle(mut self) -> Receipt {
        let (answer, _, _) = self.await_receipts().await;
        let Some(track) = &self.track else {
            return answer;
        };
        match &answer {
            Receipt::Delivered => self.forget_note(),
            Receipt::Failed(_) if self.delivered > self.start => {
                save_part(
                    track,
                    self.delivered,
                    "Object delivered in part before delivery failed; the next run resumes it.",
                )
                .await;
            }
            _ => {}
        }
        answer
    }

    /// Waits for the receipts of what was shipped, oldest first, noting how far they reach as
    /// they come (all but the last: the caller decides what the end means). The answer of the
    /// last (or of the first that failed), and the events and bytes delivered.
    async fn await_receipts(&mut self) -> (Receipt, u64, u64) {
        if let Some(failed) = self.failed.take() {
            return (failed, 0, 0);
        }
        let (mut events, mut bytes) = (0, 0);
        let mut answer = Receipt::Delivered;
        let mut unnoted = false;
        loop {
            let next = match self.outbox.answered() {
                Some(answered) => Some(answered),
                None => {
                    // About to wait: how far the answers so far reach is noted first (not at
                    // each of the answers an epoch's close brings at once).
                    if unnoted && self.outbox.waiting() {
                        self.note_progress().await;
                        unnoted = false;
                    }
                    self.outbox.next_answer().await
                }
            };
            let Some((batch, receipt)) = next else { break };
            match receipt {
                Receipt::Delivered => {
                    self.delivered = batch.mark;
                    events += batch.events;
                    bytes += batch.bytes;
                    unnoted = true;
                }
                Receipt::Printed => answer = Receipt::Printed,
                failed @ Receipt::Failed(_) => return (failed, events, bytes),
            }
        }
        (answer, events, bytes)
    }

    /// The object was left in the middle: waits for the receipts of what was shipped, noting
    /// how far they reach as they come (so a kill during the wait loses little) and once more
    /// before returning, and counts what was delivered.
    pub async fn leave(mut self, counters: &Counters) {
        let (_, events, bytes) = self.await_receipts().await;
        Counters::add(&counters.events, events);
        Counters::add(&counters.bytes, bytes);
        if let Some(track) = &self.track
            && self.delivered > self.start
        {
            let said = "Object left in the middle; the next run resumes it.";
            save_part(track, self.delivered, said).await;
        }
    }
}

/// Notes, before returning, that `track`'s object was delivered up to `records`, saying `said`
/// (or that it could not be noted).
async fn save_part(track: &Track, records: u64, said: &str) {
    match track
        .notes
        .note_now(&track.message_id, partial(track, records))
        .await
    {
        Ok(()) => tracing::info!(
            message = said,
            object = %track.object,
            records_delivered = records
        ),
        Err(e) => {
            tracing::warn!(message = "Could not save how far an object was delivered; the next run ships that part again.", object = %track.object, error = %e)
        }
    }
}

fn partial(track: &Track, records: u64) -> ObjectNote {
    ObjectNote::Partial {
        object: track.object.clone(),
        progress: PartialObject {
            etag: track.etag.clone(),
            records,
        },
        expires: track.expires,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{StateStore, Worker, files::FileStore};

    fn part(object: &str, records: u64) -> ObjectNote {
        ObjectNote::Partial {
            object: object.into(),
            progress: PartialObject {
                etag: Some("\"e\"".into()),
                records,
            },
            expires: Utc::now() + chrono::Duration::hours(1),
        }
    }

    /// What the state holds of message `m`: each object's records noted.
    async fn noted(state: &ServiceHandle) -> Vec<(String, u64)> {
        let saved = state.saved().await.unwrap();
        saved.messages.get("m").map_or_else(Vec::new, |m| {
            m.partial
                .iter()
                .map(|(o, p)| (o.clone(), p.records))
                .collect()
        })
    }

    /// A note in part is written at once; forgetting one waits for the next write (or the end
    /// of the run), and forgetting one that never reached a write writes nothing.
    #[tokio::test]
    async fn forgetting_waits_for_a_write_and_skips_what_was_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::Files(FileStore::new(dir.path()));
        let worker = Worker {
            owner: "test".into(),
            shard: None,
            lease_length: std::time::Duration::from_secs(60),
            dry_run: false,
        };
        let state = Arc::new(store.open("1.svc", &worker).await.unwrap());
        let notes = PartialNotes::new(state.clone());
        notes.note("m", part("s3://b/a", 10)).await;
        assert_eq!(noted(&state).await, [("s3://b/a".to_string(), 10)]);

        // `b` noted while a write is under way (so only pending), then delivered whole.
        notes.push("m", part("s3://b/b", 5));
        notes.forget("m", "s3://b/b", false);
        notes.forget("m", "s3://b/a", false);
        // An object an earlier run noted is forgotten even though this run never wrote it.
        notes.forget("m", "s3://b/c", true);
        assert!(
            crate::lock(&notes.notes)
                .pending
                .values()
                .all(|n| matches!(n, ObjectNote::Whole { .. }))
        );
        // Forgetting alone starts no write: `a` is still there, gone with the next write.
        assert_eq!(noted(&state).await, [("s3://b/a".to_string(), 10)]);
        notes.note("m", part("s3://b/d", 1)).await;
        assert_eq!(noted(&state).await, [("s3://b/d".to_string(), 1)]);
        notes.forget("m", "s3://b/d", false);
        assert_eq!(noted(&state).await, [("s3://b/d".to_string(), 1)]);
        notes.flush().await;
        assert_eq!(noted(&state).await, []);
        assert!(crate::lock(&notes.notes).sent.is_empty());
    }
}
