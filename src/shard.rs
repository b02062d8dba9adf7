//! `--shard I/N`: a static split of the work between N workers that share one config. Regions
//! are dealt out by their position in the config's list; the cursors of a service with several
//! per region (CloudWatch Logs groups) by a stable hash of their name, the same on every machine.

use std::fmt;
use std::str::FromStr;

/// Worker `index` (from 0) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Whether the item at `position` of a configured list is this worker's.
    pub fn owns_position(self, position: usize) -> bool {
        position % self.count as usize == self.index as usize
    }

    /// Whether the item called `name` is this worker's (FNV-1a: stable across builds and hosts).
    pub fn owns_name(self, name: &str) -> bool {
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        hash % u64::from(self.count) == u64::from(self.index)
    }
}

/// As given on the command line: `I/N`, I from 1.
impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = || format!("expected I/N with 1 <= I <= N, such as 2/4, got {s:?}");
        let (i, n) = s.split_once('/').ok_or_else(expected)?;
        let (i, n): (u32, u32) = (
            i.trim().parse().map_err(|_| expected())?,
            n.trim().parse().map_err(|_| expected())?,
        );
        if i == 0 || i > n {
            return Err(expected());
        }
        Ok(Self {
            index: i - 1,
            count: n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_shows_one_based() {
        let s: Shard = "2/4".parse().unwrap();
        assert_eq!(s.to_string(), "2/4");
        for bad in ["0/4", "5/4", "2", "a/b", "1/0", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_item_has_exactly_one_worker() {
        let shards: Vec<Shard> = (1..=3).map(|i| format!("{i}/3").parse().unwrap()).collect();
        for position in 0..10 {
            assert_eq!(
                shards.iter().filter(|s| s.owns_position(position)).count(),
                1
            );
        }
        let names: Vec<String> = (0..300).map(|i| format!("us-east-1/group-{i}")).collect();
        let mut per_shard = [0; 3];
        for name in &names {
            let owners: Vec<usize> = (0..3).filter(|&i| shards[i].owns_name(name)).collect();
            assert_eq!(owners.len(), 1);
            per_shard[owners[0]] += 1;
        }
        assert!(per_shard.iter().all(|&n| n > 70), "{per_shard:?}");
    }
}
