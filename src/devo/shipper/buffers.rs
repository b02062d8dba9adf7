//! An epoch's bytes: the batches written in it, kept as they came (not copied into one buffer)
//! until its receipt, for a replay; then handed back to the producers' spare buffers
//! (`frame::recycle`), so the next batches are written into memory already mapped. Each batch
//! keeps its record cuts, so a replay's TLS records end on frames as the first writing's did.

use crate::devo::frame::Framed;

/// The batches of one epoch, in the order they were written.
#[derive(Debug, Default)]
pub(super) struct EpochBytes {
    batches: Vec<Framed>,
    len: usize,
}

impl EpochBytes {
    pub fn push(&mut self, batch: Framed) {
        self.len += batch.len();
        match self.batches.last_mut() {
            // A batch that fits in the room left by the one before joins it (queue events come
            // a message at a time): big batches are kept, not copied; small ones hold no
            // buffer each.
            Some(last) if batch.len() <= last.bytes.capacity() - last.len() => {
                last.append(&batch);
                crate::devo::frame::recycle(batch.bytes);
            }
            _ => self.batches.push(batch),
        }
    }

    /// Bytes in all.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn batches(&self) -> impl Iterator<Item = &Framed> {
        self.batches.iter()
    }

    /// The epoch is settled: its buffers go back for the next batches.
    pub fn recycle(self) {
        self.batches
            .into_iter()
            .for_each(|b| crate::devo::frame::recycle(b.bytes));
    }
}
