//! The moto server, as the tests see it: its endpoint from the environment (`make test` starts
//! it), and blocking helpers over the real AWS SDK to seed and inspect queues.

use std::collections::HashMap;

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use tokio::runtime::Runtime;

/// Where moto listens; set by `make test` (tests/support/with-moto.sh).
pub fn endpoint() -> String {
    std::env::var("DEVO_AWS_TEST_ENDPOINT").expect(
        "DEVO_AWS_TEST_ENDPOINT is not set: run the tests with `make test`, which starts moto",
    )
}

/// Regions to spread big queues over: moto slows down sharply past a few hundred messages in one
/// queue (seen: sending 5,000 messages to one queue took 280 s), so tests and the benchmark put
/// at most 500 in each.
pub const REGIONS: [&str; 10] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "ap-southeast-1",
    "ap-southeast-2",
];

/// A unique, valid queue name for one test.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub struct Moto {
    rt: Runtime,
    endpoint: String,
    credentials: Credentials,
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

impl Moto {
    pub fn new() -> Self {
        Self {
            rt: runtime(),
            endpoint: endpoint(),
            credentials: Credentials::new("testing", "testing", None, None, "test"),
        }
    }

    /// The same emulator, acting as `role_arn` (moto acts in the role's account).
    pub fn assume(&self, role_arn: &str) -> Self {
        let conf = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(self.credentials.clone())
            .build();
        let assumed = self.rt.block_on(async {
            aws_sdk_sts::Client::from_conf(conf)
                .assume_role()
                .role_arn(role_arn)
                .role_session_name("test-setup")
                .send()
                .await
                .unwrap()
                .credentials
                .unwrap()
        });
        Self {
            rt: runtime(),
            endpoint: self.endpoint.clone(),
            credentials: Credentials::new(
                assumed.access_key_id,
                assumed.secret_access_key,
                Some(assumed.session_token),
                None,
                "assumed",
            ),
        }
    }

    /// Arms a fault in the launcher (see tests/support/moto_launcher.py).
    pub fn fault(&self, rule: serde_json::Value) {
        let url = format!("{}/moto-api/devo-aws/faults", self.endpoint);
        ureq::post(&url).send(rule.to_string().as_bytes()).unwrap();
    }

    /// The AssumeRole calls the launcher saw: role, session name and external id.
    pub fn assumed_roles(&self) -> Vec<serde_json::Value> {
        let url = format!("{}/moto-api/devo-aws/assumed-roles", self.endpoint);
        let body = ureq::get(&url)
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&body).unwrap()
    }

    fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .credentials_provider(self.credentials.clone())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub fn create_bucket(&self, region: &str, bucket: &str) {
        use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
        self.rt.block_on(async {
            let mut create = self.s3(region).create_bucket().bucket(bucket);
            if region != "us-east-1" {
                create = create.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(region))
                        .build(),
                );
            }
            create.send().await.unwrap();
        });
    }

    /// An object's bytes, or None when there is no such object.
    pub fn get_object(&self, region: &str, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.rt.block_on(async {
            match self
                .s3(region)
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => Some(out.body.collect().await.unwrap().to_vec()),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => None,
                Err(e) => panic!("GetObject {bucket}/{key}: {e:?}"),
            }
        })
    }

    /// A new queue and a new bucket that announces every created object on it, both named after
    /// `prefix`: (queue name, queue URL, bucket).
    pub fn announcing_bucket(
        &self,
        region: &str,
        prefix: &str,
        visibility_secs: u32,
    ) -> (String, String, String) {
        let queue = unique_name(prefix);
        let url = self.create_queue(region, &queue, visibility_secs);
        let bucket = unique_name(prefix).to_lowercase();
        self.bucket_notifying(region, &bucket, &url);
        (queue, url, bucket)
    }

    /// A bucket that announces every created object on the queue `queue_url` (moto sends the
    /// notifications itself, starting with an s3:TestEvent).
    pub fn bucket_notifying(&self, region: &str, bucket: &str, queue_url: &str) {
        use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
        self.create_bucket(region, bucket);
        self.rt.block_on(async {
            let s3 = self.s3(region);
            let arn = self.queue_arn(region, queue_url).await;
            s3.put_bucket_notification_configuration()
                .bucket(bucket)
                .notification_configuration(
                    NotificationConfiguration::builder()
                        .queue_configurations(
                            QueueConfiguration::builder()
                                .queue_arn(arn)
                                .events(Event::from("s3:ObjectCreated:*"))
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .send()
                .await
                .unwrap();
        });
    }

    pub fn put_object(&self, region: &str, bucket: &str, key: &str, body: Vec<u8>) {
        self.put_encoded(region, bucket, key, body, None);
    }

    /// [`Moto::put_object`] stored with a `Content-Encoding`.
    pub fn put_encoded(
        &self,
        region: &str,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        encoding: Option<&str>,
    ) {
        self.rt.block_on(async {
            self.s3(region)
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(body.into())
                .set_content_encoding(encoding.map(String::from))
                .send()
                .await
                .unwrap();
        });
    }

    /// [`Moto::put_object`] with user metadata (`x-amz-meta-<name>`).
    pub fn put_with_metadata(
        &self,
        region: &str,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        metadata: &[(&str, &str)],
    ) {
        self.rt.block_on(async {
            let mut put = self
                .s3(region)
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(body.into());
            for (name, value) in metadata {
                put = put.metadata(*name, *value);
            }
            put.send().await.unwrap();
        });
    }

    /// Gives the launcher's ListPublicKeys a public key of `region` (DER, PKCS #1).
    pub fn add_public_key(&self, region: &str, fingerprint: &str, der: &[u8]) {
        let url = format!("{}/moto-api/devo-aws/cloudtrail-public-keys", self.endpoint);
        let value = aws_smithy_types::base64::encode(der);
        let body = serde_json::json!({"region": region, "keys": [{"Fingerprint": fingerprint, "Value": value}]});
        ureq::post(&url).send(body.to_string().as_bytes()).unwrap();
    }

    /// Takes out of the queue at `url` the messages whose body holds `text`, as a lost
    /// notification would be (the others are made visible again).
    pub fn lose_messages(&self, region: &str, url: &str, text: &str) -> usize {
        self.rt.block_on(async {
            let sqs = self.sqs(region);
            let mut lost = 0;
            let mut others = Vec::new();
            loop {
                let got = sqs
                    .receive_message()
                    .queue_url(url)
                    .max_number_of_messages(10)
                    .visibility_timeout(30)
                    .send()
                    .await
                    .unwrap();
                let messages = got.messages.unwrap_or_default();
                if messages.is_empty() {
                    break;
                }
                for m in messages {
                    let handle = m.receipt_handle.unwrap_or_default();
                    if m.body.unwrap_or_default().contains(text) {
                        sqs.delete_message()
                            .queue_url(url)
                            .receipt_handle(handle)
                            .send()
                            .await
                            .unwrap();
                        lost += 1;
                    } else {
                        others.push(handle);
                    }
                }
            }
            for handle in others {
                sqs.change_message_visibility()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .unwrap();
            }
            lost
        })
    }

    fn logs(&self, region: &str) -> aws_sdk_cloudwatchlogs::Client {
        let conf = aws_sdk_cloudwatchlogs::Config::builder()
            .behavior_version(aws_sdk_cloudwatchlogs::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudwatchlogs::config::Region::new(
                region.to_string(),
            ))
            .endpoint_url(&self.endpoint)
            .credentials_provider(self.credentials.clone())
            .build();
        aws_sdk_cloudwatchlogs::Client::from_conf(conf)
    }

    /// Queues named `name` in as few of [`REGIONS`] as hold `bodies` at 500 each (moto slows
    /// down sharply past that), with the bodies dealt out among them: (region, queue URL).
    pub fn spread_queues(
        &self,
        name: &str,
        bodies: &[String],
        visibility_secs: u32,
    ) -> Vec<(&'static str, String)> {
        let regions = &REGIONS[..bodies.len().div_ceil(500).clamp(1, REGIONS.len())];
        let per_region = bodies.len().div_ceil(regions.len()).max(1);
        regions
            .iter()
            .zip(bodies.chunks(per_region))
            .map(|(region, part)| {
                let url = self.create_queue(region, name, visibility_secs);
                self.send(region, &url, part);
                (*region, url)
            })
            .collect()
    }

    /// Creates a log group and its streams.
    pub fn log_group(&self, region: &str, group: &str, streams: &[&str]) {
        self.rt.block_on(async {
            let logs = self.logs(region);
            logs.create_log_group()
                .log_group_name(group)
                .send()
                .await
                .unwrap();
            for s in streams {
                logs.create_log_stream()
                    .log_group_name(group)
                    .log_stream_name(*s)
                    .send()
                    .await
                    .unwrap();
            }
        });
    }

    /// Puts (timestamp ms, message) events into a stream.
    pub fn put_log_events(
        &self,
        region: &str,
        group: &str,
        stream: &str,
        events: &[(i64, String)],
    ) {
        use aws_sdk_cloudwatchlogs::types::InputLogEvent;
        self.rt.block_on(async {
            let events = events
                .iter()
                .map(|(ts, m)| {
                    InputLogEvent::builder()
                        .timestamp(*ts)
                        .message(m)
                        .build()
                        .unwrap()
                })
                .collect();
            self.logs(region)
                .put_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .set_log_events(Some(events))
                .send()
                .await
                .unwrap();
        });
    }

    /// Loads CloudTrail events into the launcher's LookupEvents.
    pub fn seed_cloudtrail(&self, region: &str, events: &[serde_json::Value]) {
        let body = serde_json::json!({"region": region, "events": events}).to_string();
        let url = format!("{}/moto-api/devo-aws/cloudtrail-events", self.endpoint);
        let status = ureq::post(&url)
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }

    /// Puts one datapoint per (metric name, dimension value, timestamp s, value).
    /// Datapoints (metric name, `Api` dimension, time, value); a name listed in `units` is put
    /// with that unit.
    pub fn put_metrics(
        &self,
        region: &str,
        namespace: &str,
        points: &[(&str, &str, i64, f64)],
        units: &[(&str, &str)],
    ) {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
        let conf = aws_sdk_cloudwatch::Config::builder()
            .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudwatch::config::Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(self.credentials.clone())
            .build();
        let cw = aws_sdk_cloudwatch::Client::from_conf(conf);
        self.rt.block_on(async {
            for chunk in points.chunks(20) {
                let data = chunk
                    .iter()
                    .map(|(name, dim, at, value)| {
                        MetricDatum::builder()
                            .metric_name(*name)
                            .dimensions(Dimension::builder().name("Api").value(*dim).build())
                            .timestamp(aws_smithy_types::DateTime::from_secs(*at))
                            .value(*value)
                            .set_unit(
                                units
                                    .iter()
                                    .find(|(n, _)| n == name)
                                    .map(|(_, u)| StandardUnit::from(*u)),
                            )
                            .build()
                    })
                    .collect();
                cw.put_metric_data()
                    .namespace(namespace)
                    .set_metric_data(Some(data))
                    .send()
                    .await
                    .unwrap();
            }
        });
    }

    fn sqs(&self, region: &str) -> aws_sdk_sqs::Client {
        sqs_client(&self.endpoint, region, self.credentials.clone())
    }

    /// The ARN of the queue at `url`.
    async fn queue_arn(&self, region: &str, url: &str) -> String {
        self.sqs(region)
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()
            .remove(&QueueAttributeName::QueueArn)
            .unwrap()
    }

    /// Creates a queue and returns its URL.
    pub fn create_queue(&self, region: &str, name: &str, visibility_secs: u32) -> String {
        self.rt.block_on(async {
            self.sqs(region)
                .create_queue()
                .queue_name(name)
                .attributes(
                    QueueAttributeName::VisibilityTimeout,
                    visibility_secs.to_string(),
                )
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap()
        })
    }

    /// A queue whose redrive policy moves a message to a new dead-letter queue once it was
    /// received `max_receive_count` times: (queue URL, dead-letter queue URL).
    pub fn create_queue_with_dlq(
        &self,
        region: &str,
        name: &str,
        visibility_secs: u32,
        max_receive_count: u32,
    ) -> (String, String) {
        let dlq = self.create_queue(region, &format!("{name}-dlq"), visibility_secs);
        self.rt.block_on(async {
            let sqs = self.sqs(region);
            let arn = self.queue_arn(region, &dlq).await;
            let policy = serde_json::json!({
                "deadLetterTargetArn": arn,
                "maxReceiveCount": max_receive_count,
            });
            let url = sqs
                .create_queue()
                .queue_name(name)
                .attributes(
                    QueueAttributeName::VisibilityTimeout,
                    visibility_secs.to_string(),
                )
                .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap();
            (url, dlq)
        })
    }

    /// Sends bodies, 10 per SendMessageBatch.
    pub fn send(&self, region: &str, url: &str, bodies: &[String]) {
        self.rt.block_on(async {
            let sqs = self.sqs(region);
            for chunk in bodies.chunks(10) {
                let entries = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(b)
                            .build()
                            .unwrap()
                    })
                    .collect();
                let out = sqs
                    .send_message_batch()
                    .queue_url(url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .unwrap();
                assert!(out.failed.is_empty(), "{:?}", out.failed);
            }
        });
    }

    /// (visible, in flight) messages of a queue.
    pub fn depth(&self, region: &str, url: &str) -> (u64, u64) {
        self.rt.block_on(async {
            let out = self
                .sqs(region)
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::All)
                .send()
                .await
                .unwrap();
            let attrs: HashMap<_, _> = out.attributes.unwrap_or_default();
            let get =
                |k: QueueAttributeName| attrs.get(&k).and_then(|v| v.parse().ok()).unwrap_or(0);
            (
                get(QueueAttributeName::ApproximateNumberOfMessages),
                get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            )
        })
    }
}

/// An SQS client of `region` at `endpoint` (moto, the bench's stand-in) with `credentials`.
pub fn sqs_client(endpoint: &str, region: &str, credentials: Credentials) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}
