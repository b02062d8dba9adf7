//! Where AWS puts the time in its log keys, for replays that list a bucket: the date spelt by
//! the directories (`.../2026/11/03/`, Hive-style `year=2026/month=11/day=03/hour=05/`, AWS
//! Config's unpadded `2026/11/3/`, Security Lake's `eventDay=20261103/`) and the stamp in a file's name (`_20261103T0505Z_` of
//! CloudTrail, VPC Flow Logs, ELB, WAF, Route 53 and Network Firewall; `.2026-11-03-05.` of
//! CloudFront; the leading `2026-11-03-05-12-33-` of S3 server access logs). Pure.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use regex::Regex;

/// The date the directories above a key spell so far: year, then month, day, hour, minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirDate {
    parts: [u32; 5],
    len: usize,
}

/// Each part's Hive-style name, the digits it is written with and its range.
const PARTS: [(
    &str,
    std::ops::RangeInclusive<usize>,
    std::ops::RangeInclusive<u32>,
); 5] = [
    ("year", 4..=4, 1970..=2200),
    ("month", 1..=2, 1..=12),
    ("day", 1..=2, 1..=31),
    ("hour", 2..=2, 0..=23),
    ("minute", 2..=2, 0..=59),
];

impl DirDate {
    /// This date with directory `name` as its next part, when `name` spells it (`2026`, `11`,
    /// `3`, `year=2026`, `hour=05`); `None` when `name` is no date part (an account, a region,
    /// `CloudTrail`), so the directory is walked as it is.
    pub fn extend(self, name: &str) -> Option<Self> {
        if let Some(day) = name.strip_prefix("eventDay=").filter(|_| self.len == 0) {
            return Self::event_day(day);
        }
        let (label, digits, range) = PARTS.get(self.len)?;
        let text = name
            .strip_prefix(label)
            .and_then(|r| r.strip_prefix('='))
            .unwrap_or(name);
        if !digits.contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value: u32 = text.parse().ok()?;
        if !range.contains(&value) {
            return None;
        }
        let mut next = self;
        next.parts[self.len] = value;
        next.len += 1;
        // A day that does not exist (2026/02/30) is no date.
        next.span()?;
        Some(next)
    }

    /// Security Lake's partition of a day, `eventDay=YYYYMMDD`.
    fn event_day(digits: &str) -> Option<Self> {
        if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        [&digits[..4], &digits[4..6], &digits[6..]]
            .into_iter()
            .try_fold(Self::default(), |date, part| date.extend(part))
    }

    /// Whether the directories spelt a whole day (or more).
    pub fn has_day(&self) -> bool {
        self.len >= 3
    }

    /// The time the directory covers, `[start, end)`; `None` before a year is known.
    pub fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let [year, month, day, hour, minute] = self.parts;
        let year = i32::try_from(year).ok()?;
        let date = |y: i32, m: u32, d: u32| {
            NaiveDate::from_ymd_opt(y, m, d)
                .map(|d| Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN)))
        };
        match self.len {
            0 => None,
            1 => Some((date(year, 1, 1)?, date(year + 1, 1, 1)?)),
            2 => {
                let (ny, nm) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                Some((date(year, month, 1)?, date(ny, nm, 1)?))
            }
            _ => {
                let start = date(year, month, day)?;
                let (start, length) = match self.len {
                    3 => (start, Duration::days(1)),
                    4 => (start + Duration::hours(hour.into()), Duration::hours(1)),
                    _ => (
                        start + Duration::hours(hour.into()) + Duration::minutes(minute.into()),
                        Duration::minutes(1),
                    ),
                };
                Some((start, start + length))
            }
        }
    }
}

/// The stamps AWS writes in its file names.
static STAMP: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})?Z|(\d{4})-(\d{2})-(\d{2})-(\d{2})(?:-(\d{2})-(\d{2}))?",
    )
    .ok()
});

/// The time stamped in the file name of `key` (its part after the last `/`), if AWS stamps one.
pub fn key_stamp(key: &str) -> Option<DateTime<Utc>> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let caps = STAMP.as_ref()?.captures(name)?;
    let num = |i: usize| caps.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    let (first, seconds_at) = if caps.get(1).is_some() {
        (1, 6)
    } else {
        (7, 12)
    };
    let year = i32::try_from(num(first)?).ok()?;
    let (month, day, hour) = (num(first + 1)?, num(first + 2)?, num(first + 3)?);
    // CloudFront stamps the hour only; the others the minute (and Config the second).
    let minute = num(first + 4).unwrap_or(0);
    let second = num(seconds_at).unwrap_or(0);
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(hour, minute, second))
        .map(|t| Utc.from_utc_datetime(&t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn walk(names: &[&str]) -> Option<DirDate> {
        names
            .iter()
            .try_fold(DirDate::default(), |d, name| d.extend(name))
    }

    #[test]
    fn directories_spell_dates_in_every_aws_layout() {
        let day = walk(&["2026", "11", "03"]).unwrap();
        assert!(day.has_day());
        assert_eq!(
            day.span(),
            Some((at("2026-11-03T00:00:00Z"), at("2026-11-04T00:00:00Z")))
        );
        // AWS Config does not pad; Hive-style partitions name each part.
        assert_eq!(walk(&["2026", "11", "3"]), Some(day));
        assert_eq!(walk(&["year=2026", "month=11", "day=03"]), Some(day));
        // Security Lake's one partition of a day.
        assert_eq!(walk(&["eventDay=20261103"]), Some(day));
        assert_eq!(walk(&["eventDay=20260230"]), None);
        assert_eq!(walk(&["eventDay=2026110"]), None);
        let hour = walk(&["year=2026", "month=12", "day=31", "hour=23"]).unwrap();
        assert_eq!(
            hour.span(),
            Some((at("2026-12-31T23:00:00Z"), at("2027-01-01T00:00:00Z")))
        );
        assert_eq!(
            walk(&["2026", "12"]).unwrap().span(),
            Some((at("2026-12-01T00:00:00Z"), at("2027-01-01T00:00:00Z")))
        );
        let minute = walk(&["2026", "11", "03", "05", "40"]).unwrap();
        assert_eq!(minute.span().unwrap().0, at("2026-11-03T05:40:00Z"));
    }

    #[test]
    fn accounts_regions_and_impossible_days_are_no_dates() {
        let none = DirDate::default();
        for name in [
            "123456789012",
            "us-east-1",
            "CloudTrail",
            "o-abc123",
            "20261",
            "926",
        ] {
            assert_eq!(none.extend(name), None, "{name}");
        }
        let month = walk(&["2026", "02"]).unwrap();
        assert_eq!(month.extend("30"), None);
        assert_eq!(walk(&["2026", "13"]), None);
        // Past a full date, directories are walked as they are.
        let day = walk(&["2026", "11", "03"]).unwrap();
        assert_eq!(day.extend("ConfigHistory"), None);
    }

    #[test]
    fn file_names_carry_their_stamps() {
        let cases = [
            (
                "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/03/111122223333_CloudTrail_us-east-1_20261103T0505Z_AbC.json.gz",
                "2026-11-03T05:05:00Z",
            ),
            (
                "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/11/03/111122223333_vpcflowlogs_eu-west-1_fl-0123_20261103T2355Z_9f8e.log.gz",
                "2026-11-03T23:55:00Z",
            ),
            (
                "cf/E2QWRUHEXAMPLE.2026-11-03-05.a1b2c3d4.gz",
                "2026-11-03T05:00:00Z",
            ),
            (
                "access/2026-11-03-05-12-33-ABCDEF0123456789",
                "2026-11-03T05:12:33Z",
            ),
            (
                "AWSLogs/111122223333/Config/us-east-1/2026/11/3/ConfigHistory/111122223333_Config_us-east-1_ConfigHistory_AWS::EC2::Instance_20261103T050512Z_20261103T060512Z_1.json.gz",
                "2026-11-03T05:05:12Z",
            ),
        ];
        for (key, stamp) in cases {
            assert_eq!(key_stamp(key), Some(at(stamp)), "{key}");
        }
        // The stamp is read from the file name, never from the directories.
        assert_eq!(
            key_stamp("AWSLogs/1/GuardDuty/us-east-1/2026/11/03/5f1d8e2a-0c41.jsonl.gz"),
            None
        );
        assert_eq!(key_stamp("x/20261399T0505Z_bad.gz"), None);
    }
}
