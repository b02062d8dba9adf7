//! Connections made ahead: under load, the next epochs' connections are made while the current
//! one fills, and the first epoch's while Devo is checked, so that no epoch waits for a
//! handshake's round trip, nor for the quiet window a connection must wait out before its close
//! (see `close_cleanly`).

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::devo::tls::{DevoConnection, DevoEndpoint, close_unused};

/// Connections made in advance under load. An epoch fills in a few tens of milliseconds; a
/// connection takes a round trip to make, and its close must wait two handshakes' time after it:
/// made this many epochs ahead, a connection to a Devo 50 ms away is past that wait when its
/// epoch is written.
const CONNECTS_AHEAD: usize = 8;

/// The connections being made for the next epochs, and the closes of those not used.
pub(super) struct Ahead {
    endpoint: Arc<DevoEndpoint>,
    close_timeout: Duration,
    made: VecDeque<JoinHandle<io::Result<DevoConnection>>>,
    /// The closes of connections made in advance and not used, awaited before the end.
    unused: Vec<JoinHandle<()>>,
}

impl Ahead {
    pub fn new(endpoint: Arc<DevoEndpoint>, close_timeout: Duration) -> Self {
        Self {
            endpoint,
            close_timeout,
            made: VecDeque::new(),
            unused: Vec::new(),
        }
    }

    /// Starts making connections in the background, up to [`CONNECTS_AHEAD`].
    pub fn fill(&mut self) {
        while self.made.len() < CONNECTS_AHEAD {
            self.connect_one();
        }
    }

    /// Starts making the first epoch's connection, unless one is being made.
    pub fn first(&mut self) {
        if self.made.is_empty() {
            self.connect_one();
        }
    }

    fn connect_one(&mut self) {
        let endpoint = self.endpoint.clone();
        self.made
            .push_back(tokio::spawn(async move { endpoint.connect().await }));
    }

    /// A connection for a new epoch: one made in advance, or a new one.
    pub async fn take(&mut self) -> io::Result<DevoConnection> {
        match self.made.pop_front() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => self.endpoint.connect().await,
        }
    }

    /// Closes the connections made in advance cleanly (they carried nothing); those still
    /// connecting are given up. How many connections were made.
    pub async fn drop_all(&mut self) -> u64 {
        self.unused.retain(|close| !close.is_finished());
        let mut connections = 0;
        while let Some(task) = self.made.pop_front() {
            if !task.is_finished() {
                task.abort();
                continue;
            }
            if let Ok(Ok(conn)) = task.await {
                connections += 1;
                self.unused
                    .push(tokio::spawn(close_unused(conn, self.close_timeout)));
            }
        }
        connections
    }

    /// Drops what is left and waits for the unused connections' closes. How many connections
    /// were made.
    pub async fn finish(mut self) -> u64 {
        let connections = self.drop_all().await;
        for close in self.unused.drain(..) {
            let _ = close.await;
        }
        connections
    }
}
