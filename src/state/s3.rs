//! The S3 backend: several workers, on several machines, share one config's state.
//!
//! Layout under `s3://<bucket>/<prefix>`: `<input id>.<service>/service.json` (when the service
//! and each shard last pulled) and `<input id>.<service>/cursors/<cursor>.json` (the cursor and
//! its lease), the cursor's name percent-encoded. Every write is conditional: `If-None-Match: *`
//! creates, `If-Match: <ETag of what was read>` updates, so of two workers racing for one cursor
//! exactly one write succeeds; the other sees 412 and leaves the cursor alone. A worker leases a
//! cursor before pulling it (owner, expiry its run's deadline and a grace from now), renews the
//! lease with each advance and while a slice makes progress (`sources::cursor`), and clears it
//! when done; a worker that died or hangs holds its cursors until the lease expires, then the
//! next worker takes them over from where they were last recorded. A service object is written
//! with `If-Match` on the ETag this run last read or wrote of it, and read again only on a 412.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Claim, Cursor, STATE_VERSION, ServiceState, StateError, Worker, parse_versioned};
use crate::aws::Aws;
use crate::lock;
use crate::outcome::{Failure, Outcome};

/// Bytes kept as they are in a cursor's object name; the rest is percent-encoded (log group
/// names hold `/` and `#`).
const NAME: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_');
/// Tries at the read-modify-write of a service object that other workers are writing too.
const SERVICE_WRITE_TRIES: usize = 5;

/// The state bucket.
#[derive(Clone)]
pub struct S3Store {
    aws: Arc<Aws>,
    client: aws_sdk_s3::Client,
    bucket: String,
    /// Empty, or ends with `/`.
    prefix: String,
    /// The service objects as this run last read or wrote them, with their ETags: a write tries
    /// the ETag it knows, and reads the object again only when another worker wrote it meanwhile.
    known: Arc<Mutex<HashMap<String, (ServiceState, String)>>>,
}

/// A cursor's object.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CursorObject {
    version: u32,
    /// None until the cursor's first window is delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<Cursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease: Option<Lease>,
    /// Counts the writes, so that no two versions have the same bytes (and so the same ETag).
    #[serde(default)]
    generation: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lease {
    owner: String,
    expires: DateTime<Utc>,
}

/// A cursor this run holds: what it last wrote of it, and the ETag that write got.
#[derive(Debug, Clone)]
pub struct Leased {
    object: CursorObject,
    etag: String,
}

/// The condition of a write.
enum Condition<'a> {
    /// The object must not exist yet.
    Create,
    /// The object must still be the one read, with this ETag.
    Match(&'a str),
}

enum Written {
    Done {
        etag: String,
    },
    /// Another worker wrote first.
    Conflict,
}

impl S3Store {
    pub fn new(aws: Arc<Aws>, region: &str, bucket: &str, prefix: &str) -> Self {
        let prefix = if prefix.is_empty() || prefix.ends_with('/') {
            prefix.to_string()
        } else {
            format!("{prefix}/")
        };
        Self {
            client: aws.s3(region),
            aws,
            bucket: bucket.to_string(),
            prefix,
            known: Arc::default(),
        }
    }

    /// HeadBucket: the bucket exists and these credentials may list it.
    pub async fn probe(&self) -> Result<String, StateError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| format!("{} reachable", self.location(&self.prefix)))
            .map_err(|e| {
                StateError::Aws(
                    self.aws
                        .failure(&format!("S3 HeadBucket {}", self.bucket), &e),
                )
            })
    }

    fn service_object(&self, key: &str) -> String {
        format!("{}{key}/service.json", self.prefix)
    }

    fn cursor_object(&self, key: &str, name: &str) -> String {
        format!(
            "{}{key}/cursors/{}.json",
            self.prefix,
            utf8_percent_encode(name, NAME)
        )
    }

    fn location(&self, object: &str) -> String {
        format!("s3://{}/{object}", self.bucket)
    }

    pub fn cursor_location(&self, key: &str, name: &str) -> String {
        self.location(&self.cursor_object(key, name))
    }

    /// The object and its ETag, or None when it does not exist.
    async fn get<T: DeserializeOwned>(
        &self,
        object: &str,
    ) -> Result<Option<(T, String)>, StateError> {
        let location = self.location(object);
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(object)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => {
                return Err(StateError::Aws(
                    self.aws.failure(&format!("S3 GetObject {location}"), &e),
                ));
            }
        };
        let etag = out.e_tag.clone().unwrap_or_default();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| {
                StateError::Aws(Failure::new(
                    Outcome::Temporary,
                    format!("S3 GetObject {location}: {e}"),
                ))
            })?
            .into_bytes();
        Ok(Some((parse_versioned(&location, &bytes)?, etag)))
    }

    /// Writes `value` if `condition` holds.
    async fn put<T: Serialize>(
        &self,
        object: &str,
        value: &T,
        condition: Condition<'_>,
    ) -> Result<Written, StateError> {
        let location = self.location(object);
        let mut body = serde_json::to_vec_pretty(value).map_err(|e| {
            StateError::Aws(Failure::new(Outcome::Internal, format!("{location}: {e}")))
        })?;
        body.push(b'\n');
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(object)
            .content_type("application/json")
            .body(ByteStream::from(body));
        let request = match condition {
            Condition::Create => request.if_none_match("*"),
            Condition::Match(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(out) => Ok(Written::Done {
                etag: out.e_tag.unwrap_or_default(),
            }),
            Err(e) if is_conflict(&e) => Ok(Written::Conflict),
            Err(e) => Err(StateError::Aws(
                self.aws.failure(&format!("S3 PutObject {location}"), &e),
            )),
        }
    }

    /// The service object, if there is one (and now known to this run's writes).
    pub async fn load_service(&self, key: &str) -> Result<Option<ServiceState>, StateError> {
        let object = self.service_object(key);
        let Some((state, etag)) = self.get::<ServiceState>(&object).await? else {
            return Ok(None);
        };
        lock(&self.known).insert(object, (state.clone(), etag));
        Ok(Some(state))
    }

    /// Changes the service object with `change`: first as this run last knew it, then, when
    /// another worker wrote it meanwhile, read again and retried.
    pub async fn update_service(
        &self,
        key: &str,
        change: impl Fn(&mut ServiceState),
    ) -> Result<(), StateError> {
        let object = self.service_object(key);
        let mut current = lock(&self.known).get(&object).cloned();
        // One try more than reads: the first is of what this run knew.
        for tried in 0..=SERVICE_WRITE_TRIES {
            if tried > 0 {
                current = self.get::<ServiceState>(&object).await?;
            }
            let (mut state, etag) = current
                .take()
                .map_or((ServiceState::default(), None), |(s, e)| (s, Some(e)));
            let condition = etag.as_deref().map_or(Condition::Create, Condition::Match);
            change(&mut state);
            state.version = STATE_VERSION;
            if let Written::Done { etag } = self.put(&object, &state, condition).await? {
                lock(&self.known).insert(object, (state, etag));
                return Ok(());
            }
        }
        Err(StateError::Aws(Failure::new(
            Outcome::Temporary,
            format!(
                "{}: other workers kept writing it ({SERVICE_WRITE_TRIES} tries)",
                self.location(&object)
            ),
        )))
    }

    /// Leases cursor `name` for `worker`, unless another worker holds a lease that has not
    /// expired. A dry run only reads.
    pub async fn claim(
        &self,
        key: &str,
        name: &str,
        worker: &Worker,
    ) -> Result<(Claim, Option<Leased>), StateError> {
        let object = self.cursor_object(key, name);
        let current = self.get::<CursorObject>(&object).await?;
        if worker.dry_run {
            return Ok((Claim::Granted(current.and_then(|(o, _)| o.cursor)), None));
        }
        let (previous, condition) = match &current {
            Some((o, etag)) => (o.clone(), Condition::Match(etag)),
            None => (CursorObject::default(), Condition::Create),
        };
        // Another worker's lease: respected until it expires, then taken over.
        let expired = match &previous.lease {
            Some(lease) if lease.owner != worker.owner => {
                if lease.expires > Utc::now() {
                    return Ok((
                        Claim::Held(format!(
                            "leased by {} until {}",
                            lease.owner,
                            lease.expires.to_rfc3339_opts(SecondsFormat::Secs, true)
                        )),
                        None,
                    ));
                }
                Some(lease.owner.clone())
            }
            _ => None,
        };
        let next = CursorObject {
            version: STATE_VERSION,
            cursor: previous.cursor,
            lease: Some(Lease {
                owner: worker.owner.clone(),
                expires: super::lease_expiry(Utc::now(), worker.lease_length),
            }),
            generation: previous.generation + 1,
        };
        match self.put(&object, &next, condition).await? {
            Written::Done { etag } => {
                if let Some(previous_owner) = expired {
                    tracing::warn!(message = "Taking over a cursor whose lease expired.", cursor = name, %previous_owner);
                }
                Ok((
                    Claim::Granted(next.cursor.clone()),
                    Some(Leased { object: next, etag }),
                ))
            }
            Written::Conflict => Ok((
                Claim::Held("leased by another worker a moment ago".into()),
                None,
            )),
        }
    }

    /// Moves a leased cursor to `cursor` and renews the lease until `lease_until`; with `None`
    /// for both, clears the lease and leaves the cursor where it is.
    pub async fn write_cursor(
        &self,
        key: &str,
        name: &str,
        leased: &Leased,
        cursor: Option<Cursor>,
        lease_until: Option<DateTime<Utc>>,
    ) -> Result<Leased, StateError> {
        let object = self.cursor_object(key, name);
        let next = CursorObject {
            version: STATE_VERSION,
            cursor: cursor.or_else(|| leased.object.cursor.clone()),
            lease: lease_until.and_then(|expires| {
                leased.object.lease.as_ref().map(|l| Lease {
                    owner: l.owner.clone(),
                    expires,
                })
            }),
            generation: leased.object.generation + 1,
        };
        match self
            .put(&object, &next, Condition::Match(&leased.etag))
            .await?
        {
            Written::Done { etag } => Ok(Leased { object: next, etag }),
            Written::Conflict => Err(StateError::LeaseLost {
                location: self.location(&object),
            }),
        }
    }
}

/// 412 Precondition Failed (the ETag changed, or the object exists) or 409 Conflict (a
/// concurrent conditional write won).
fn is_conflict<E>(e: &SdkError<E, HttpResponse>) -> bool {
    matches!(
        e.raw_response().map(|r| r.status().as_u16()),
        Some(409 | 412)
    )
}
