//! What a replay would list, for `devo-aws check --start-time`.

use super::{Root, roots_of};
use crate::aws::Aws;
use crate::config::{ObjectPlan, ServicePlan};
use crate::formats::layout::DirDate;
use crate::outcome::Failure;
use crate::window::{Backfill, rfc3339};

/// What a replay of `kind` over `window` would list, for `devo-aws check --start-time`: per root,
/// the bucket's region, that the credentials may list it, and the directories whose children
/// are dated (each account and region of an AWS layout), found by listing down to them. Reads
/// no object and writes no state.
pub async fn preview(
    aws: &Aws,
    plan: &ServicePlan,
    objects: &ObjectPlan,
    window: Backfill,
) -> Vec<(String, Result<String, Failure>)> {
    let check = |root: &str| format!("replay {} {root}", plan.kind.name());
    let roots = match roots_of(plan, objects) {
        Ok(roots) => roots,
        Err(f) => return vec![(check(""), Err(f))],
    };
    let end = window.end.unwrap_or_else(|| aws.now());
    let mut rows = Vec::new();
    for root in roots {
        let result = match Root::find(aws, plan, root).await {
            Ok(found) => dated_dirs(aws, &found).await.map(|dirs| {
                let shown: Vec<&str> = dirs.iter().take(4).map(String::as_str).collect();
                let more = dirs.len().saturating_sub(shown.len());
                format!(
                    "bucket in {}, s3:ListBucket granted; {} {} to list from {} to {}: {}{}",
                    found.region,
                    dirs.len(),
                    if dirs.len() == 1 {
                        "prefix"
                    } else {
                        "prefixes"
                    },
                    rfc3339(window.start),
                    rfc3339(end),
                    shown.join(" "),
                    if more > 0 {
                        format!(" (+{more} more)")
                    } else {
                        String::new()
                    }
                )
            }),
            Err(f) => Err(f),
        };
        rows.push((check(&root.to_string()), result));
    }
    rows
}

/// Directories below `root`'s prefix whose children are dated (or that hold objects), listing
/// no deeper than them and at most [`PLAN_LISTINGS`] times.
async fn dated_dirs(aws: &Aws, root: &Root) -> Result<Vec<String>, Failure> {
    let mut waiting = vec![root.prefix.clone()];
    let mut found = Vec::new();
    let mut listings = 0;
    while let Some(dir) = waiting.pop() {
        if listings == PLAN_LISTINGS {
            found.push(format!("{dir}..."));
            break;
        }
        listings += 1;
        let page = root.list(aws, &dir, None).await?;
        let subs: Vec<&str> = page
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix())
            .collect();
        let dated = subs.iter().any(|sub| {
            let part = sub
                .strip_prefix(dir.as_str())
                .unwrap_or(sub)
                .trim_end_matches('/');
            DirDate::default().extend(part).is_some()
        });
        if dated || !page.contents().is_empty() {
            found.push(dir);
        } else {
            waiting.extend(subs.into_iter().rev().map(String::from));
        }
    }
    Ok(found)
}

/// Listings `check` makes at most per root.
const PLAN_LISTINGS: usize = 200;
