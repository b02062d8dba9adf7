//! Epoch buffers: an epoch keeps its bytes until its receipt (for a replay), so each needs a
//! buffer of the epoch's size. A few big buffers are reused rather than one allocated per epoch,
//! which fragments the heap of a multi-threaded process (glibc's arenas).

/// Buffers whose epoch's close is done, ready for the next epochs.
#[derive(Default)]
pub(super) struct Buffers {
    free: Vec<Vec<u8>>,
}

impl Buffers {
    /// More than this many are not kept: the epoch being written and those closing.
    const KEPT: usize = 1 + super::EPOCHS_CLOSING;

    /// An empty buffer with room for `bytes`, sized once: growing by doubling would hold twice
    /// the epoch at its end.
    pub fn take(&mut self, bytes: usize) -> Vec<u8> {
        let mut buffer = self.free.pop().unwrap_or_default();
        buffer.clear();
        buffer.reserve(bytes);
        buffer
    }

    /// A buffer whose epoch is settled.
    pub fn give_back(&mut self, buffer: Vec<u8>) {
        if buffer.capacity() > 0 && self.free.len() < Self::KEPT {
            self.free.push(buffer);
        }
    }
}
