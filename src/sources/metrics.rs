//! `metrics` (metrics-all): CloudWatch metrics, pulled by time.
//!
//! Per region: ListMetrics (each of `namespaces`, or every namespace), then GetMetricData for
//! the window [cursor, now − delay), aligned to `period_seconds` (default 300) and held back by
//! `delay_seconds` (default 300) for CloudWatch's own lag. Queries (one per metric and statistic)
//! go 500 to a request, all statistics of a metric in the same request, so one event per metric
//! and timestamp carries every statistic asked for. Windows are half-open and aligned, so a
//! datapoint is neither shipped twice nor skipped between runs.
//!
//! GetMetricData reports no units. Each metric name's unit (`region/namespace/name`) is learnt
//! with one GetMetricStatistics call on one of its metrics over the last day, kept in the state
//! and asked again after a day (after an hour when the metric had no datapoint to tell), at most
//! [`MAX_UNITS_PER_RUN`] a run and region: 2,000 metrics under 40 names cost 40 calls a day, not
//! one per metric per window. A name whose metrics carry different units gets the unit of one.
//!
//! With `include_linked_accounts`, a monitoring account (CloudWatch cross-account observability)
//! lists its linked accounts' metrics too (ListMetrics' `IncludeLinkedAccounts`, each metric's
//! `OwningAccounts` entry) and asks for each in its own account (the query's `AccountId`); every
//! datapoint carries and is tagged with its owner. Units are learnt from the monitoring
//! account's own metrics (GetMetricStatistics reads no other account): a name only linked
//! accounts have stays without one.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_cloudwatch::types::{
    Datapoint, Metric, MetricDataQuery, MetricDataResult, MetricStat, StandardUnit, Statistic,
    StatusCode,
};
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::{StreamExt, stream};
use serde::Serialize;

use crate::aws::Aws;
use crate::bill::Unit;
use crate::config::{MetricsApi, MetricsPlan, ServiceKind, ServicePlan};
use crate::cycle::{Counters, RunContext, Summary, run_service};
use crate::devo::shipper::{Outbox, Shipped};
use crate::outcome::{Failure, Outcome};
use crate::sources::cursor::{CursorPlan, CursorPull, Pacer, RegionPuller, each_puller};
use crate::sources::{TagRule, puller_account};
use crate::state::{ServiceHandle, UnitMemo};
use crate::window::{Window, align_down};

const KIND: ServiceKind = ServiceKind::METRICS;
/// GetMetricData's limit of queries per request.
const MAX_QUERIES: usize = 500;
/// A bound on one request's size, well under what CloudWatch accepts.
const MAX_REQUEST_BYTES: usize = 512 << 10;
/// Periods per slice: with 500 queries, at most 50,000 datapoints per request.
const PERIODS_PER_SLICE: u32 = 100;
const REQUESTS_PER_SECOND: u32 = 10;
/// Metric names whose unit is learnt at most per run and region (the rest in later runs).
const MAX_UNITS_PER_RUN: usize = 500;
/// GetMetricStatistics calls per second (its quota is 400).
const UNIT_REQUESTS_PER_SECOND: u32 = 50;
/// GetMetricStatistics requests per second and region with `metrics_api: get_metric_statistics`
/// (the quota is 400 per account and region; four regions are pulled at once), and at once.
const STATISTICS_REQUESTS_PER_SECOND: u32 = 100;
const STATISTICS_IN_FLIGHT: usize = 16;
/// How long a learnt unit is trusted, and how soon a name without one is asked again.
const UNIT_KEEP_HOURS: i64 = 24;
const UNIT_RETRY_HOURS: i64 = 1;

/// One metric at one timestamp, as shipped.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MetricEvent<'a> {
    namespace: &'a str,
    metric_name: &'a str,
    dimensions: BTreeMap<&'a str, &'a str>,
    timestamp: String,
    period: u32,
    /// The metric's unit, as learnt (see the module's note); null while unknown.
    unit: Option<&'a str>,
    #[serde(flatten)]
    statistics: BTreeMap<&'a str, f64>,
    region: &'a str,
    account_id: &'a str,
}

/// What `metrics` takes from its config block, resolved before its cycle.
struct Plan {
    cursor: CursorPlan,
    /// `period_seconds`.
    period: u32,
    /// `statistics`, or the default ones.
    statistics: Vec<String>,
    /// `namespaces` (empty: every namespace).
    namespaces: Vec<String>,
    api: MetricsApi,
    /// `include_linked_accounts`.
    linked: bool,
}

/// A metric listed, and the account that owns it when that is a linked account.
struct Listed {
    metric: Metric,
    /// Its owner, a linked account (None: the puller's own).
    linked: Option<String>,
}

impl Plan {
    fn resolve(plan: &ServicePlan, metrics: &MetricsPlan) -> Self {
        Self {
            cursor: CursorPlan::planned(plan, &metrics.cursor),
            period: metrics.period,
            statistics: metrics.statistics.clone(),
            namespaces: metrics.namespaces.clone(),
            api: metrics.api,
            linked: metrics.include_linked_accounts,
        }
    }
}

/// One cycle of the service.
pub async fn run(ctx: &RunContext, service: &ServicePlan, metrics: &MetricsPlan) -> Summary {
    let plan = &Plan::resolve(service, metrics);
    run_service(ctx, service, |counters, state| async move {
        let account = puller_account(&ctx.aws).await?.to_string();
        let period_len = Duration::from_secs(u64::from(plan.period));
        let latest = plan.cursor.latest_end(ctx);
        let usual = CursorPull::new(ctx, &state, &counters, &plan.cursor);
        let pull = CursorPull {
            lookback: usual.lookback.max(period_len),
            slice: period_len * PERIODS_PER_SLICE,
            align: Some(period_len),
            ..usual
        };
        let regions = (plan.cursor.regions.as_slice(), ctx.worker.shard);
        let client = (Aws::cloudwatch as fn(&Aws, &str) -> _, REQUESTS_PER_SECOND);
        each_puller(ctx, KIND, regions, &account, &counters, client, |at| {
            let region_metrics = RegionMetrics {
                at,
                plan,
                statistics_pacer: Pacer::per_second(STATISTICS_REQUESTS_PER_SECOND),
            };
            let (pull, latest) = (&pull, align_down(latest, period_len));
            async move { region_metrics.run(pull, latest).await }
        })
        .await
    })
    .await
}

struct RegionMetrics<'a> {
    at: RegionPuller<'a, aws_sdk_cloudwatch::Client>,
    plan: &'a Plan,
    /// Paces GetMetricStatistics (`metrics_api: get_metric_statistics`).
    statistics_pacer: Pacer,
}

/// Rough size of a query in a request, to keep requests under [`MAX_REQUEST_BYTES`].
fn query_bytes(m: &Metric) -> usize {
    let dims: usize = m
        .dimensions()
        .iter()
        .map(|d| d.name().map_or(0, str::len) + d.value().map_or(0, str::len) + 32)
        .sum();
    m.namespace().map_or(0, str::len) + m.metric_name().map_or(0, str::len) + dims + 128
}

impl RegionMetrics<'_> {
    /// The region's metrics, listed, their units known, then pulled up to `latest`.
    async fn run(&self, pull: &CursorPull<'_>, latest: DateTime<Utc>) -> Result<(), Failure> {
        let metrics = self.list().await?;
        tracing::info!(message = "Metrics listed.", region = %self.at.region, count = metrics.len());
        let units = self.units(&metrics, pull.state).await;
        pull.run(self.at.region, latest, &self.at.pacer, |job| {
            self.slice(&metrics, &units, job.slice)
        })
        .await
    }

    /// The unit of each metric name, from the state, learning those unknown or stale. Units
    /// are a courtesy: a failure to learn them is a warning, and they stay null.
    async fn units(&self, metrics: &[Listed], state: &ServiceHandle) -> HashMap<String, String> {
        let now = Utc::now();
        let mut known = state.units().await.unwrap_or_else(|e| {
            tracing::warn!(message = "Cannot read the metric units learnt before.", error = %e);
            BTreeMap::new()
        });
        let mut names: BTreeMap<String, &Metric> = BTreeMap::new();
        for m in metrics.iter().filter(|l| l.linked.is_none()) {
            names.entry(self.unit_key(&m.metric)).or_insert(&m.metric);
        }
        let stale = names.into_iter().filter(|(key, _)| {
            known.get(key).is_none_or(|memo| {
                let keep = if memo.unit.is_some() {
                    UNIT_KEEP_HOURS
                } else {
                    UNIT_RETRY_HOURS
                };
                now - memo.learnt > chrono::Duration::hours(keep)
            })
        });
        let pacer = Pacer::per_second(UNIT_REQUESTS_PER_SECOND);
        let mut learnt = BTreeMap::new();
        for (key, m) in stale.take(MAX_UNITS_PER_RUN) {
            let asked = self
                .statistics_of(m)
                .start_time(aws_smithy_types::DateTime::from_secs(
                    (now - chrono::Duration::days(1)).timestamp(),
                ))
                .end_time(aws_smithy_types::DateTime::from_secs(now.timestamp()))
                .period(86_400)
                .statistics(Statistic::SampleCount)
                .send();
            match pacer.paced(asked).await {
                Ok(out) => {
                    let unit = out
                        .datapoints()
                        .iter()
                        .find_map(|d| d.unit())
                        .filter(|u| **u != StandardUnit::None)
                        .map(|u| u.as_str().to_string());
                    learnt.insert(key, UnitMemo { unit, learnt: now });
                }
                Err(e) => {
                    tracing::warn!(
                        message = "Cannot learn metric units; they stay null.",
                        error = %self.at.failure("CloudWatch GetMetricStatistics", &e)
                    );
                    break;
                }
            }
        }
        if let Err(e) = state.record_units(&learnt).await {
            tracing::warn!(message = "Cannot record the metric units learnt.", error = %e);
        }
        known.extend(learnt);
        known
            .into_iter()
            .filter_map(|(key, memo)| memo.unit.map(|u| (key, u)))
            .collect()
    }

    /// A GetMetricStatistics request for metric `m` (its namespace, name and dimensions).
    fn statistics_of(
        &self,
        m: &Metric,
    ) -> aws_sdk_cloudwatch::operation::get_metric_statistics::builders::GetMetricStatisticsFluentBuilder
    {
        self.at
            .client
            .get_metric_statistics()
            .set_namespace(m.namespace().map(String::from))
            .set_metric_name(m.metric_name().map(String::from))
            .set_dimensions(Some(m.dimensions().to_vec()))
    }

    /// How a metric's unit is remembered: by region, namespace and name.
    fn unit_key(&self, m: &Metric) -> String {
        format!(
            "{}/{}/{}",
            self.at.region,
            m.namespace().unwrap_or_default(),
            m.metric_name().unwrap_or_default()
        )
    }

    /// Every metric of the configured namespaces (or of all), all pages, with their owners
    /// (`include_linked_accounts`).
    async fn list(&self) -> Result<Vec<Listed>, Failure> {
        let namespaces: Vec<Option<&str>> = if self.plan.namespaces.is_empty() {
            vec![None]
        } else {
            self.plan
                .namespaces
                .iter()
                .map(|n| Some(n.as_str()))
                .collect()
        };
        let mut out = Vec::new();
        for namespace in namespaces {
            let before = out.len();
            let mut pages = self
                .at
                .client
                .list_metrics()
                .set_namespace(namespace.map(String::from))
                .set_include_linked_accounts(self.plan.linked.then_some(true))
                .into_paginator()
                .send();
            let mut more = true;
            while let Some(page) = self
                .at
                .next_page(&mut more, || pages.next(), "CloudWatch ListMetrics")
                .await?
            {
                let owners = page.owning_accounts();
                out.extend(page.metrics().iter().enumerate().map(|(i, m)| {
                    Listed {
                        metric: m.clone(),
                        linked: owners
                            .get(i)
                            .filter(|owner| *owner != self.at.account)
                            .cloned(),
                    }
                }));
            }
            if let Some(ns) = namespace.filter(|_| out.len() == before) {
                // A namespace that lists nothing is a mistake often enough to say every run.
                let hint = if ns.contains('/') {
                    String::new()
                } else {
                    format!(" (AWS's own namespaces are under AWS/, such as AWS/{ns})")
                };
                tracing::warn!(
                    message = "A configured namespace lists no metric.",
                    namespace = ns,
                    region = %self.at.region,
                    key = "inputs.aws.services.metrics-all.namespaces",
                    hint = %hint
                );
                self.at.counters.note(format!(
                    "namespace {ns:?} lists no metric in {}{hint}",
                    self.at.region
                ));
            }
        }
        Ok(out)
    }

    /// Groups of metrics whose queries fit one request.
    fn groups<'m>(&self, metrics: &'m [Listed]) -> Vec<&'m [Listed]> {
        let per_metric = self.plan.statistics.len().max(1);
        let mut groups = Vec::new();
        let (mut start, mut queries, mut bytes) = (0, 0, 0);
        for (i, m) in metrics.iter().enumerate() {
            let size = query_bytes(&m.metric) * per_metric;
            if i > start && (queries + per_metric > MAX_QUERIES || bytes + size > MAX_REQUEST_BYTES)
            {
                groups.push(&metrics[start..i]);
                (start, queries, bytes) = (i, 0, 0);
            }
            queries += per_metric;
            bytes += size;
        }
        if start < metrics.len() {
            groups.push(&metrics[start..]);
        }
        groups
    }

    /// Every datapoint of every metric in `slice`, shipped; no ids are needed at the ends since
    /// windows are half-open.
    async fn slice(
        &self,
        metrics: &[Listed],
        units: &HashMap<String, String>,
        slice: Window,
    ) -> Result<(Shipped, Vec<String>), Failure> {
        let mut tags: HashMap<&str, String> = HashMap::new();
        let mut outbox: Outbox = Outbox::new(&self.at.ctx.shipper, &self.at.ctx.framing);
        for group in self.groups(metrics) {
            let points = match self.plan.api {
                MetricsApi::GetMetricData => self.get_metric_data(group, slice).await?,
                MetricsApi::GetMetricStatistics => self.get_metric_statistics(group, slice).await?,
            };
            for ((metric_index, at), values) in &points {
                let Listed { metric: m, linked } = &group[*metric_index];
                let account = linked.as_deref().unwrap_or(self.at.account);
                let statistics: BTreeMap<&str, f64> = self
                    .plan
                    .statistics
                    .iter()
                    .zip(values)
                    .filter_map(|(s, v)| v.map(|v| (s.as_str(), v)))
                    .collect();
                let event = MetricEvent {
                    namespace: m.namespace().unwrap_or_default(),
                    metric_name: m.metric_name().unwrap_or_default(),
                    dimensions: m
                        .dimensions()
                        .iter()
                        .filter_map(|d| Some((d.name()?, d.value()?)))
                        .collect(),
                    timestamp: DateTime::from_timestamp_millis(*at)
                        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
                        .unwrap_or_default(),
                    period: self.plan.period,
                    unit: units.get(&self.unit_key(m)).map(String::as_str),
                    statistics,
                    region: self.at.region,
                    account_id: account,
                };
                let tag = tags.entry(account).or_insert_with(|| {
                    TagRule {
                        table: "cloud.aws.cloudwatch.metrics",
                        typed_family: None,
                        from_event: false,
                    }
                    .tag_fields(None, None, None, account, self.at.region)
                });
                match serde_json::to_string(&event) {
                    Ok(json) => outbox.push(tag, &json).await,
                    Err(e) => {
                        tracing::warn!(message = "Datapoint skipped.", error = %e);
                        Counters::add(&self.at.counters.failed, 1);
                    }
                }
            }
        }
        Ok((outbox.finish().await, Vec::new()))
    }

    /// GetMetricData for one group over the slice, all pages: values by (metric, timestamp ms),
    /// one per statistic asked for.
    async fn get_metric_data(
        &self,
        group: &[Listed],
        slice: Window,
    ) -> Result<BTreeMap<(usize, i64), Vec<Option<f64>>>, Failure> {
        let per_metric = self.plan.statistics.len();
        let queries: Vec<MetricDataQuery> = group
            .iter()
            .enumerate()
            .flat_map(|(mi, m)| {
                self.plan
                    .statistics
                    .iter()
                    .enumerate()
                    .map(move |(si, stat)| {
                        MetricDataQuery::builder()
                            .id(format!("m{mi}_{si}"))
                            .set_account_id(m.linked.clone())
                            .metric_stat(
                                MetricStat::builder()
                                    .metric(m.metric.clone())
                                    .period(i32::try_from(self.plan.period).unwrap_or(300))
                                    .stat(stat)
                                    .build(),
                            )
                            .return_data(true)
                            .build()
                    })
            })
            .collect();
        let (start_ms, end_ms) = (slice.start.timestamp_millis(), slice.end.timestamp_millis());
        let mut points: BTreeMap<(usize, i64), Vec<Option<f64>>> = BTreeMap::new();
        // GetMetricData bills each query of each call (each page) as a metric requested.
        let requested = queries.len() as u64;
        let mut pages = self
            .at
            .client
            .get_metric_data()
            .set_metric_data_queries(Some(queries))
            .start_time(aws_smithy_types::DateTime::from_millis(start_ms))
            .end_time(aws_smithy_types::DateTime::from_millis(end_ms))
            .into_paginator()
            .send();
        let mut more = true;
        while let Some(page) = self
            .at
            .next_page(&mut more, || pages.next(), "CloudWatch GetMetricData")
            .await?
        {
            self.at
                .ctx
                .aws
                .billed(Unit::CloudWatchMetricsRequested, requested);
            for result in page.metric_data_results() {
                check_status(result, self.at.region)?;
                let Some((mi, si)) = result.id().and_then(parse_query_id) else {
                    continue;
                };
                for (at, value) in result.timestamps().iter().zip(result.values()) {
                    let at = at.to_millis().unwrap_or(i64::MIN);
                    // Half-open windows: a datapoint at the end belongs to the next one.
                    if at < start_ms || at >= end_ms || mi >= group.len() || si >= per_metric {
                        continue;
                    }
                    points
                        .entry((mi, at))
                        .or_insert_with(|| vec![None; per_metric])[si] = Some(*value);
                }
            }
            self.at.stop_within_slice(more)?;
        }
        Ok(points)
    }

    /// The same datapoints as [`Self::get_metric_data`], through GetMetricStatistics: one
    /// request per metric with every statistic asked for (only the five basic ones, which
    /// validation made sure of), billed as one request instead of one metric per statistic.
    async fn get_metric_statistics(
        &self,
        group: &[Listed],
        slice: Window,
    ) -> Result<BTreeMap<(usize, i64), Vec<Option<f64>>>, Failure> {
        let (start_ms, end_ms) = (slice.start.timestamp_millis(), slice.end.timestamp_millis());
        let statistics: Vec<Statistic> = self
            .plan
            .statistics
            .iter()
            .map(|s| Statistic::from(s.as_str()))
            .collect();
        let answers: Vec<Result<(usize, Vec<Datapoint>), Failure>> =
            stream::iter(group.iter().enumerate())
                .map(|(mi, m)| {
                    let asked = self
                        .statistics_of(&m.metric)
                        .start_time(aws_smithy_types::DateTime::from_millis(start_ms))
                        .end_time(aws_smithy_types::DateTime::from_millis(end_ms))
                        .period(i32::try_from(self.plan.period).unwrap_or(300))
                        .set_statistics(Some(statistics.clone()))
                        .send();
                    async move {
                        self.statistics_pacer
                            .paced(asked)
                            .await
                            .map(|out| (mi, out.datapoints().to_vec()))
                            .map_err(|e| self.at.failure("CloudWatch GetMetricStatistics", &e))
                    }
                })
                .buffer_unordered(STATISTICS_IN_FLIGHT)
                .collect()
                .await;
        let mut points: BTreeMap<(usize, i64), Vec<Option<f64>>> = BTreeMap::new();
        for answer in answers {
            let (mi, datapoints) = answer?;
            for d in datapoints {
                let at = d
                    .timestamp()
                    .and_then(|t| t.to_millis().ok())
                    .unwrap_or(i64::MIN);
                if at < start_ms || at >= end_ms {
                    continue;
                }
                let values = self
                    .plan
                    .statistics
                    .iter()
                    .map(|s| match s.as_str() {
                        "Average" => d.average(),
                        "Sum" => d.sum(),
                        "Minimum" => d.minimum(),
                        "Maximum" => d.maximum(),
                        "SampleCount" => d.sample_count(),
                        _ => None,
                    })
                    .collect();
                points.insert((mi, at), values);
            }
        }
        Ok(points)
    }
}

/// A result GetMetricData could not give whole: `PartialData` is completed by the next page
/// (the paginator follows NextToken), but `InternalError` or `Forbidden` leave the window
/// uncommitted, so nothing in it is skipped.
fn check_status(result: &MetricDataResult, region: &str) -> Result<(), Failure> {
    let outcome = match result.status_code() {
        Some(StatusCode::InternalError) => Outcome::Temporary,
        Some(StatusCode::Forbidden) => Outcome::Config,
        _ => return Ok(()),
    };
    let detail = result
        .messages()
        .iter()
        .filter_map(|m| m.value())
        .collect::<Vec<_>>()
        .join("; ");
    Err(Failure::new(
        outcome,
        format!(
            "CloudWatch GetMetricData in {region}: query {} answered {}{}",
            result.id().unwrap_or("?"),
            result.status_code().map_or("?", StatusCode::as_str),
            if detail.is_empty() {
                String::new()
            } else {
                format!(" ({detail})")
            }
        ),
    ))
}

/// `m{metric}_{statistic}` back to its indices.
fn parse_query_id(id: &str) -> Option<(usize, usize)> {
    let (m, s) = id.strip_prefix('m')?.split_once('_')?;
    Some((m.parse().ok()?, s.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_ids_round_trip() {
        assert_eq!(parse_query_id("m12_3"), Some((12, 3)));
        assert_eq!(parse_query_id("x1_2"), None);
    }
}
