//! The replay's keeper: the receipts of what was read, in the order it was shipped, and the
//! replay's state written after them (once per burst): per directory, the names delivered, and
//! a directory settled once every object of it was delivered past its late deliveries.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;

use super::Step;
use crate::cycle::Counters;
use crate::outcome::Failure;
use crate::state::{PrefixProgress, ServiceHandle, ServiceState};

/// What the keeper saw.
#[derive(Default)]
pub(super) struct Kept {
    pub(super) delivered: u64,
    pub(super) unread: u64,
    pub(super) failure: Option<Failure>,
}

/// One directory's tally in this run.
#[derive(Default)]
struct Tally {
    delivered: u64,
    unread: bool,
    listed: Option<(u64, bool)>,
}

/// Waits for each object's receipt, in the order they were shipped, and writes what was
/// delivered to the replay's state whenever no other receipt is waiting (so a burst of receipts
/// at the end of an epoch is one write).
///
/// `done` is what earlier runs delivered; only the directories this run touches are copied
/// from it, as they change.
pub(super) async fn keep(
    state: &ServiceHandle,
    done: &BTreeMap<String, PrefixProgress>,
    counters: &Counters,
    mut steps: mpsc::UnboundedReceiver<Step>,
    stop: &AtomicBool,
) -> Result<Kept, Failure> {
    let mut keeper = Keeper {
        done,
        counters,
        kept: Kept::default(),
        progress: BTreeMap::new(),
        tallies: HashMap::new(),
    };
    let mut dirty: BTreeSet<String> = BTreeSet::new();
    // The state that could not be written, if it could not.
    let mut unwritten: Option<Failure> = None;
    while let Some(step) = steps.recv().await {
        let dir = keeper.take(step, stop).await;
        keeper.settle(&dir);
        dirty.insert(dir);
        if steps.is_empty() && unwritten.is_none() {
            unwritten = write(state, &keeper.progress, &mut dirty).await.err();
            if unwritten.is_some() {
                // What is delivered from now on could not be remembered: read no more.
                stop.store(true, Ordering::Relaxed);
            }
        }
    }
    match unwritten {
        Some(e) => Err(e),
        None => write(state, &keeper.progress, &mut dirty)
            .await
            .map(|()| keeper.kept),
    }
}

/// What the keeper holds while steps come.
struct Keeper<'a> {
    /// What earlier runs delivered.
    done: &'a BTreeMap<String, PrefixProgress>,
    counters: &'a Counters,
    kept: Kept,
    /// The directories this run touched, as they stand now.
    progress: BTreeMap<String, PrefixProgress>,
    tallies: HashMap<String, Tally>,
}

impl Keeper<'_> {
    /// Takes in one step (waiting for a shipped object's receipt); the directory it is about.
    async fn take(&mut self, step: Step, stop: &AtomicBool) -> String {
        match step {
            Step::Shipped { dir, name, shipped } => {
                let (events, bytes) = (shipped.events, shipped.bytes);
                match shipped.answer().await.outcome() {
                    Ok(answer) => {
                        if answer.is_delivered() {
                            let done = self.done;
                            self.progress
                                .entry(dir.clone())
                                .or_insert_with(|| done.get(&dir).cloned().unwrap_or_default())
                                .done
                                .insert(name);
                            self.tally(&dir).delivered += 1;
                            self.kept.delivered += 1;
                        }
                        Counters::add(&self.counters.objects, 1);
                        Counters::add(&self.counters.events, events);
                        Counters::add(&self.counters.bytes, bytes);
                    }
                    Err(f) => {
                        stop.store(true, Ordering::Relaxed);
                        self.kept.failure.get_or_insert(f);
                    }
                }
                dir
            }
            Step::Unread { dir } => {
                self.kept.unread += 1;
                Counters::add(&self.counters.failed, 1);
                self.tally(&dir).unread = true;
                dir
            }
            Step::Left { dir } => {
                self.tally(&dir).unread = true;
                dir
            }
            Step::Listed {
                dir,
                to_ship,
                settles,
            } => {
                self.tally(&dir).listed = Some((to_ship, settles));
                dir
            }
        }
    }

    fn tally(&mut self, dir: &str) -> &mut Tally {
        self.tallies.entry(dir.to_string()).or_default()
    }

    /// Settles `dir` when every object of it was delivered past its late deliveries: its names
    /// are forgotten.
    fn settle(&mut self, dir: &str) {
        if let Some(t) = self.tallies.get(dir)
            && let Some((to_ship, true)) = t.listed
            && !t.unread
            && t.delivered == to_ship
        {
            self.progress.insert(
                dir.to_string(),
                PrefixProgress {
                    done: Default::default(),
                    settled: true,
                },
            );
        }
    }
}

/// Writes the progress of the `dirty` directories.
async fn write(
    state: &ServiceHandle,
    progress: &BTreeMap<String, PrefixProgress>,
    dirty: &mut BTreeSet<String>,
) -> Result<(), Failure> {
    if dirty.is_empty() {
        return Ok(());
    }
    let changed: Vec<(String, PrefixProgress)> = std::mem::take(dirty)
        .into_iter()
        .filter_map(|d| progress.get(&d).map(|p| (d, p.clone())))
        .collect();
    state
        .update(|s: &mut ServiceState| {
            for (dir, p) in &changed {
                s.prefixes.insert(dir.clone(), p.clone());
            }
        })
        .await
        .map_err(Failure::from)
}
