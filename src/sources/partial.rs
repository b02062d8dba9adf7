//! Objects delivered in part: how far each object being read has reached Devo, kept in the state
//! as it grows, so that a run that leaves an object in the middle (a stop signal, the deadline,
//! a read that broke off, a kill) does not make the next run ship that part again.
//!
//! An object's [`ObjectSink`] ships its batches and sees their receipts come back in order. Each
//! time the delivered prefix of an object still being read grows, it notes it with
//! [`PartialNotes`], which writes the latest notes in one state update at a time (notes made
//! during a write go with the next). Small objects, delivered in one epoch, never write. An
//! object left in the middle waits for the receipts of what it shipped and writes how far they
//! reach; one delivered whole has its note forgotten before its message is deleted.
//!
//! The position is counted in records (events, and the records dropped or skipped as bad among
//! them, in the order the decoder reads them): decoding is deterministic, so the next read of the
//! same object (the same ETag) passes over exactly those.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::cycle::Counters;
use crate::devo::frame::FrameBatch;
use crate::devo::shipper::{Outbox, Pending, Receipt, Shipped};
use crate::state::{ObjectNote, PartialObject, ServiceHandle};

/// Notes on objects delivered in part, written to the state one update at a time.
pub struct PartialNotes {
    state: Arc<ServiceHandle>,
    /// The latest note of each (message, object) not written yet.
    pending: Mutex<BTreeMap<(String, String), ObjectNote>>,
    writing: tokio::sync::Mutex<()>,
}

impl PartialNotes {
    pub fn new(state: Arc<ServiceHandle>) -> Self {
        Self {
            state,
            pending: Mutex::default(),
            writing: tokio::sync::Mutex::new(()),
        }
    }

    fn push(&self, message_id: &str, note: ObjectNote) {
        let object = match &note {
            ObjectNote::Partial { object, .. } | ObjectNote::Whole { object } => object.clone(),
        };
        crate::lock(&self.pending).insert((message_id.to_string(), object), note);
    }

    /// Notes progress as it goes: written now, or by the write in progress (or the next), so an
    /// object's reading never waits for another's write. A write that fails is reported; the
    /// note stays for the next.
    async fn note(&self, message_id: &str, note: ObjectNote) {
        self.push(message_id, note);
        let Ok(_writing) = self.writing.try_lock() else {
            return;
        };
        if let Err(e) = self.write_pending().await {
            tracing::warn!(message = "Could not save how far an object was delivered; a run that dies now ships that part again.", error = %e);
        }
    }

    /// Notes and writes before returning: what a run that leaves an object says of it.
    async fn note_now(
        &self,
        message_id: &str,
        note: ObjectNote,
    ) -> Result<(), crate::state::StateError> {
        self.push(message_id, note);
        let _writing = self.writing.lock().await;
        self.write_pending().await
    }

    async fn write_pending(&self) -> Result<(), crate::state::StateError> {
        loop {
            let notes: Vec<(String, ObjectNote)> = std::mem::take(&mut *crate::lock(&self.pending))
                .into_iter()
                .map(|((message_id, _), note)| (message_id, note))
                .collect();
            if notes.is_empty() {
                return Ok(());
            }
            if let Err(e) = self.state.note_objects(&notes).await {
                // Kept for the next write, unless a newer note came meanwhile.
                let mut pending = crate::lock(&self.pending);
                for (message_id, note) in notes {
                    let object = match &note {
                        ObjectNote::Partial { object, .. } | ObjectNote::Whole { object } => {
                            object.clone()
                        }
                    };
                    pending.entry((message_id, object)).or_insert(note);
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
    /// of it is delivered its note is forgotten, and only then is the receipt answered (so its
    /// message is deleted after). Otherwise the receipt is that of the last batch (which speaks
    /// for all).
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
            if let Some(track) = self.track.as_ref().filter(|_| self.noted) {
                forget(track).await;
            }
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

    /// Waits for the receipts of an object read to its end; the answer for all of it.
    async fn settle(mut self) -> Receipt {
        let (answer, _, _) = self.await_receipts().await;
        let Some(track) = &self.track else {
            return answer;
        };
        match &answer {
            Receipt::Delivered if self.noted => forget(track).await,
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
        while let Some((batch, receipt)) = self.outbox.next_answer().await {
            match receipt {
                Receipt::Delivered => {
                    self.delivered = batch.mark;
                    events += batch.events;
                    bytes += batch.bytes;
                    if self.outbox.waiting() {
                        self.note_progress().await;
                    }
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

/// Forgets the note of `track`'s object, delivered whole.
async fn forget(track: &Track) {
    let whole = ObjectNote::Whole {
        object: track.object.clone(),
    };
    if let Err(e) = track.notes.note_now(&track.message_id, whole).await {
        tracing::warn!(message = "Could not forget how far an object was delivered; it is dropped with its message's retention.", object = %track.object, error = %e);
    }
}
