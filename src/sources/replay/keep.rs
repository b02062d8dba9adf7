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
    let mut kept = Kept::default();
    let mut progress: BTreeMap<String, PrefixProgress> = BTreeMap::new();
    let mut tallies: HashMap<String, Tally> = HashMap::new();
    let mut dirty: BTreeSet<String> = BTreeSet::new();
    // The state that could not be written, if it could not.
    let mut unwritten: Option<Failure> = None;
    while let Some(step) = steps.recv().await {
        let dir = match step {
            Step::Shipped { dir, name, shipped } => {
                let (events, bytes) = (shipped.events, shipped.bytes);
                match shipped.answer().await.outcome() {
                    Ok(answer) => {
                        if answer.is_delivered() {
                            progress
                                .entry(dir.clone())
                                .or_insert_with(|| done.get(&dir).cloned().unwrap_or_default())
                                .done
                                .insert(name);
                            tallies.entry(dir.clone()).or_default().delivered += 1;
                            kept.delivered += 1;
                        }
                        Counters::add(&counters.objects, 1);
                        Counters::add(&counters.events, events);
                        Counters::add(&counters.bytes, bytes);
                    }
                    Err(f) => {
                        stop.store(true, Ordering::Relaxed);
                        kept.failure.get_or_insert(f);
                    }
                }
                dir
            }
            Step::Unread { dir } => {
                kept.unread += 1;
                Counters::add(&counters.failed, 1);
                tallies.entry(dir.clone()).or_default().unread = true;
                dir
            }
            Step::Left { dir } => {
                tallies.entry(dir.clone()).or_default().unread = true;
                dir
            }
            Step::Listed {
                dir,
                to_ship,
                settles,
            } => {
                tallies.entry(dir.clone()).or_default().listed = Some((to_ship, settles));
                dir
            }
        };
        if let Some(t) = tallies.get(&dir)
            && let Some((to_ship, true)) = t.listed
            && !t.unread
            && t.delivered == to_ship
        {
            // Every object of a directory past its late deliveries: forget their names.
            progress.insert(
                dir.clone(),
                PrefixProgress {
                    done: Default::default(),
                    settled: true,
                },
            );
        }
        dirty.insert(dir);
        if steps.is_empty() && unwritten.is_none() {
            unwritten = write(state, &progress, &mut dirty).await.err();
            if unwritten.is_some() {
                // What is delivered from now on could not be remembered: read no more.
                stop.store(true, Ordering::Relaxed);
            }
        }
    }
    match unwritten {
        Some(e) => Err(e),
        None => write(state, &progress, &mut dirty).await.map(|()| kept),
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
