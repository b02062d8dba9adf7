//! A server that stops, seen from our closes. A relay that is stopped (rsyslog on SIGTERM, for
//! one) ends every connection it has at once, each with a close_notify of its own; on a
//! connection whose close_notify of ours had already arrived, that close looks exactly like an
//! answer, even when the relay dropped what it had read of the epoch instead of writing it
//! (rsyslog's session end sends close_notify, then reads and discards what is left). The same
//! server closing another of our connections on its own at that moment is the only sign of it,
//! so a receipt that comes within [`SHUTDOWN_WINDOW`] of such a close is void, and its epoch is
//! replayed: a possible duplicate instead of a possible loss.
//!
//! It can only see what our closes see: a server that stops while one close of ours awaits its
//! answer, and nothing else of ours is open to it or only connections we are not reading
//! (the epoch being written, connections made in advance), still looks like one that answered.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::lock;

/// How close together the closes of one stop come: a server ends its connections one after
/// the other in a loop, within a few milliseconds; this leaves room for a busy machine.
pub(super) const SHUTDOWN_WINDOW: Duration = Duration::from_millis(100);

/// The closes of one output: how many await their answer, and when the server last closed one
/// of ours on its own.
#[derive(Default)]
pub(super) struct Closes {
    log: Mutex<Log>,
}

#[derive(Default)]
struct Log {
    awaiting: usize,
    own_close: Option<Instant>,
}

/// A close awaiting its answer, counted while it lives.
pub(super) struct Awaiting<'a>(&'a Closes);

impl Drop for Awaiting<'_> {
    fn drop(&mut self) {
        lock(&self.0.log).awaiting -= 1;
    }
}

impl Closes {
    /// Counts a close awaiting its answer until the guard is dropped.
    pub fn awaiting(&self) -> Awaiting<'_> {
        lock(&self.log).awaiting += 1;
        Awaiting(self)
    }

    /// The server closed one of our connections on its own, now.
    pub fn closed_on_its_own(&self) {
        lock(&self.log).own_close = Some(Instant::now());
    }

    /// Whether an answer that came at `answered` (to a close no longer counted as awaiting) is
    /// void: the server closed another connection of ours on its own within [`SHUTDOWN_WINDOW`]
    /// of it. When another close still awaits its answer, waits until the window has passed,
    /// since a stop would close that one as well.
    pub async fn voids(&self, answered: Instant) -> bool {
        let others_awaiting = {
            let log = lock(&self.log);
            if log.near(answered) {
                return true;
            }
            log.awaiting > 0
        };
        if !others_awaiting {
            return false;
        }
        tokio::time::sleep_until(answered + SHUTDOWN_WINDOW).await;
        lock(&self.log).near(answered)
    }
}

impl Log {
    fn near(&self, at: Instant) -> bool {
        self.own_close.is_some_and(|t| {
            let gap = if t > at { t - at } else { at - t };
            gap <= SHUTDOWN_WINDOW
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_alone_stands_at_once() {
        let closes = Closes::default();
        let started = Instant::now();
        assert!(!closes.voids(Instant::now()).await);
        assert!(started.elapsed() < SHUTDOWN_WINDOW);
    }

    #[tokio::test]
    async fn an_answer_just_after_an_own_close_is_void() {
        let closes = Closes::default();
        closes.closed_on_its_own();
        assert!(closes.voids(Instant::now()).await);
    }

    #[tokio::test]
    async fn an_answer_long_after_an_own_close_stands() {
        let closes = Closes::default();
        closes.closed_on_its_own();
        tokio::time::sleep(SHUTDOWN_WINDOW + Duration::from_millis(20)).await;
        assert!(!closes.voids(Instant::now()).await);
    }

    /// Whether an answer is void when another close awaits its own and then ends: closed by
    /// the server on its own (`stopping`) or answered. `join!` polls in order, so the answer's
    /// check sees the other close awaiting and waits before that close ends.
    async fn answer_beside_another_close(stopping: bool) -> bool {
        let closes = Closes::default();
        let other = closes.awaiting();
        let (void, ()) = tokio::join!(closes.voids(Instant::now()), async {
            if stopping {
                closes.closed_on_its_own();
            }
            drop(other);
        });
        void
    }

    #[tokio::test]
    async fn an_own_close_of_another_connection_just_after_voids_the_answer() {
        let started = Instant::now();
        assert!(answer_beside_another_close(true).await);
        assert!(started.elapsed() >= SHUTDOWN_WINDOW);
    }

    #[tokio::test]
    async fn another_close_answered_meanwhile_leaves_the_answer_standing() {
        assert!(!answer_beside_another_close(false).await);
    }
}
