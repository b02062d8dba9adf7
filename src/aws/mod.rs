//! The AWS SDK set-up shared by every service: credentials (the seed's methods or the standard
//! chain), role chaining, endpoints from the environment, and per-region clients.
//!
//! Credentials are resolved lazily once per run and cached by the SDK's identity cache, which
//! refreshes assumed-role credentials before they expire during a long run.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError};
use aws_sdk_sts::config::{Credentials as StaticCredentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
    BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use tokio::sync::OnceCell;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::bill::{Bill, Unit};
use crate::config::{AwsInput, Credentials};
use crate::lock;
use crate::outcome::{Failure, Outcome};

/// The resolution of an answer's Date header, in ms: it tells the second AWS's clock was in.
const DATE_RESOLUTION_MS: i64 = 1_000;

/// Every assumed role's session says who it is.
const SESSION_NAME: &str = "devo-aws";
/// The region for STS and other global calls when the environment names none.
const FALLBACK_REGION: &str = "us-east-1";

/// Who the run acts as.
#[derive(Debug, Clone)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

/// One input's AWS identity, shared by its services.
pub struct Aws {
    base: SdkConfig,
    /// Where credentials come from, for error messages (never the secret itself).
    credentials_source: String,
    calls: CallCounter,
    identity: OnceCell<Identity>,
    /// A custom S3 endpoint (an emulator, a gateway) wants path-style addressing.
    s3_path_style: bool,
    s3_clients: Mutex<HashMap<String, aws_sdk_s3::Client>>,
}

/// `fn $name(&self, region) -> $sdk::Client`: the service's client in `region`, its calls
/// counted. (Each SDK crate has its own config builder type, hence a macro.)
macro_rules! regional_client {
    ($(#[$doc:meta])* $name:ident, $sdk:ident) => {
        $(#[$doc])*
        pub fn $name(&self, region: &str) -> $sdk::Client {
            let conf = $sdk::config::Builder::from(&self.in_region(region))
                .interceptor(self.calls.clone())
                .build();
            $sdk::Client::from_conf(conf)
        }
    };
}

impl Aws {
    /// The AWS side of `input`: its credentials block (or the standard chain) and, for STS and
    /// S3 state, the environment's or the profile's region, else the first region its services
    /// name (the instance metadata service is never asked for one).
    pub async fn for_input(input: &AwsInput) -> Self {
        Self::new(input.credentials.as_ref(), input.services.first_region()).await
    }

    /// Builds the SDK configuration from the config's credentials block, or the standard chain.
    /// The run's own region is the environment's or the profile's, else `default_region`.
    async fn new(credentials: Option<&Credentials>, default_region: Option<&str>) -> Self {
        use aws_config::meta::region::RegionProviderChain;
        let fallback = Region::new(default_region.unwrap_or(FALLBACK_REGION).to_string());
        let region = RegionProviderChain::first_try(
            aws_config::environment::EnvironmentVariableRegionProvider::new(),
        )
        .or_else(aws_config::profile::ProfileFileRegionProvider::new())
        .or_else(fallback);
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
        if let Some(c) = credentials
            && let (Some(key), Some(secret)) = (&c.access_key, &c.access_secret)
        {
            loader = loader.credentials_provider(StaticCredentials::new(
                key.clone(),
                secret.clone(),
                None,
                None,
                "devo-aws-config",
            ));
        }
        let mut base = loader.load().await;
        if let Some(c) = credentials {
            base = chain_roles(base, c).await;
        }
        let s3_path_style =
            base.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        Self {
            base,
            credentials_source: credentials_source(credentials),
            calls: CallCounter::default(),
            identity: OnceCell::new(),
            s3_path_style,
            s3_clients: Mutex::default(),
        }
    }

    /// The run's own region (the environment's, or us-east-1).
    pub fn region(&self) -> String {
        self.base
            .region()
            .map_or_else(|| FALLBACK_REGION.to_string(), ToString::to_string)
    }

    /// The configuration of `region`.
    pub fn in_region(&self, region: &str) -> SdkConfig {
        self.base
            .clone()
            .into_builder()
            .region(Region::new(region.to_string()))
            .build()
    }

    regional_client!(
        /// An SQS client for `region`.
        sqs,
        aws_sdk_sqs
    );
    regional_client!(
        /// A CloudWatch Logs client for `region`.
        logs,
        aws_sdk_cloudwatchlogs
    );
    regional_client!(
        /// A CloudWatch (metrics) client for `region`.
        cloudwatch,
        aws_sdk_cloudwatch
    );
    regional_client!(
        /// A CloudTrail client for `region`.
        cloudtrail,
        aws_sdk_cloudtrail
    );

    /// The units AWS bills for this run's requests so far.
    pub fn bill(&self) -> Bill {
        lock(&self.calls.bill).clone()
    }

    /// Counts `n` more billed `unit`s that no request's answer tells (GetMetricData's metrics
    /// requested).
    pub fn billed(&self, unit: Unit, n: u64) {
        lock(&self.calls.bill).add(unit, n);
    }

    /// Attempts, retries and throttled attempts of each operation so far.
    pub fn operation_figures(&self) -> BTreeMap<String, OperationFigures> {
        lock(&self.calls.tallies)
            .iter()
            .filter(|(_, t)| t.attempts > 0)
            .map(|(op, t)| {
                let f = OperationFigures {
                    attempts: t.attempts,
                    retries: t.attempts.saturating_sub(t.calls),
                    throttled: t.throttled,
                    bytes: t.bytes,
                };
                (op.clone(), f)
            })
            .collect()
    }

    /// Now, on AWS's clock, never later than it: this host's clock corrected by the last answer's
    /// Date header, taken at the start of its second. Windows end on it, so neither a host clock
    /// running ahead nor the header's rounding can move a cursor past data AWS does not have yet;
    /// the price is a window ending up to a second early, which the next run takes.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let local = chrono::Utc::now();
        lock(&self.calls.clock_floor_ms)
            .and_then(|ms| local.checked_add_signed(chrono::Duration::milliseconds(ms)))
            .unwrap_or(local)
    }

    /// How far AWS's clock is ahead of this host's (ms, the middle of what the Date header
    /// allows), once an answer told: for people, not for windows.
    pub fn clock_offset(&self) -> Option<i64> {
        lock(&self.calls.clock_floor_ms).map(|ms| ms + DATE_RESOLUTION_MS / 2)
    }

    /// The S3 client of `region` (made once per region and run).
    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        lock(&self.s3_clients)
            .entry(region.to_string())
            .or_insert_with(|| {
                let conf = aws_sdk_s3::config::Builder::from(&self.in_region(region))
                    .force_path_style(self.s3_path_style)
                    .interceptor(self.calls.clone())
                    .build();
                aws_sdk_s3::Client::from_conf(conf)
            })
            .clone()
    }

    /// The pulling identity (STS GetCallerIdentity through the role chain, at most once a run).
    pub async fn identity(&self) -> Result<&Identity, Failure> {
        self.identity
            .get_or_try_init(|| async {
                let conf = aws_sdk_sts::config::Builder::from(&self.base)
                    .interceptor(self.calls.clone())
                    .build();
                let out = aws_sdk_sts::Client::from_conf(conf)
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| self.failure("STS GetCallerIdentity", &e))?;
                match (out.account, out.arn) {
                    (Some(account), Some(arn)) => Ok(Identity { account, arn }),
                    _ => Err(Failure::new(
                        Outcome::Temporary,
                        "STS GetCallerIdentity returned no account",
                    )),
                }
            })
            .await
    }
}

fn credentials_source(c: Option<&Credentials>) -> String {
    let Some(c) = c else {
        return STANDARD_CHAIN.into();
    };
    let mut parts = Vec::new();
    if let Some(key) = &c.access_key {
        parts.push(format!("access key {key}"));
    }
    if let Some(role) = &c.base_assume_role {
        parts.push(format!("base role {role}"));
    }
    if let Some(role) = &c.target_assume_role {
        parts.push(format!("target role {role}"));
    }
    if parts.is_empty() {
        STANDARD_CHAIN.into()
    } else {
        format!("inputs.aws.credentials: {}", parts.join(", "))
    }
}

/// Counts every request by `Service.Operation`, for the summary, the run's metrics and the
/// benchmark's "calls by operation"; and reads AWS's clock off each answer's Date header.
#[derive(Debug, Clone, Default)]
struct CallCounter {
    tallies: Arc<Mutex<BTreeMap<String, Tally>>>,
    /// The units AWS bills for the requests so far.
    bill: Arc<Mutex<Bill>>,
    /// The least AWS's clock can be ahead of this host's, in milliseconds, as the last answer's
    /// Date header told (its second's start, against this host's clock on reading the answer);
    /// none before the first answer.
    clock_floor_ms: Arc<Mutex<Option<i64>>>,
}

/// One operation's requests: calls made, attempts (calls and their retries), attempts throttled.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    calls: u64,
    attempts: u64,
    /// Bytes of the answers' bodies, as their Content-Length said.
    bytes: u64,
    throttled: u64,
}

impl CallCounter {
    /// Counts on the tally of the operation `cfg` is for; `count` also gets its name
    /// (`Service.Operation`).
    fn tally(&self, cfg: &ConfigBag, count: impl FnOnce(&str, &mut Tally)) {
        if let Some(m) = cfg.load::<Metadata>() {
            let op = format!("{}.{}", m.service().replace(' ', ""), m.name());
            let mut tallies = lock(&self.tallies);
            match tallies.get_mut(&op) {
                Some(tally) => count(&op, tally),
                None => {
                    let mut tally = Tally::default();
                    count(&op, &mut tally);
                    tallies.insert(op, tally);
                }
            }
        }
    }
}

/// What the run's requests to one operation came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OperationFigures {
    pub attempts: u64,
    pub retries: u64,
    pub throttled: u64,
    /// Bytes AWS answered with (what S3 bills as data transfer out, for GetObject).
    pub bytes: u64,
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "devo-aws call counter"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.tally(cfg, |_, t| t.calls += 1);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.tally(cfg, |_, t| t.attempts += 1);
        Ok(())
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        let header = |name: &str| response.headers().get(name).unwrap_or_default();
        let throttled = matches!(response.status().as_u16(), 429 | 503)
            || ["x-amzn-errortype", "x-amzn-query-error"]
                .iter()
                .any(|h| header(h).contains("Throttl") || header(h).contains("SlowDown"));
        let length = header("content-length").parse::<u64>().unwrap_or(0);
        self.tally(cfg, |op, t| {
            t.throttled += u64::from(throttled);
            t.bytes += length;
            if let Some((unit, n)) = Unit::of_request(op, length) {
                lock(&self.bill).add(unit, n);
            }
        });
        let date = response
            .headers()
            .get("date")
            .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok());
        if let Some(date) = date {
            // AWS's clock was at least at the header's second when it answered, and has only moved
            // on since: a floor, whatever the rounding and the latency.
            let floor = date.timestamp_millis() - chrono::Utc::now().timestamp_millis();
            *lock(&self.clock_floor_ms) = Some(floor);
        }
        Ok(())
    }
}

/// `base_assume_role`, then `target_assume_role` (with the external id): each role is assumed
/// with the credentials of the step before it.
async fn chain_roles(mut config: SdkConfig, c: &Credentials) -> SdkConfig {
    for (role, external_id) in [
        (&c.base_assume_role, None),
        (&c.target_assume_role, c.assume_role_external_id.as_ref()),
    ] {
        let Some(role) = role else { continue };
        let mut builder = AssumeRoleProvider::builder(role.clone())
            .session_name(SESSION_NAME)
            .configure(&config);
        if let Some(id) = external_id {
            builder = builder.external_id(id.clone());
        }
        let provider = NamedRole {
            role: role.clone(),
            inner: builder.build().await,
        };
        config = config
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    }
    config
}

/// An assumed role's credentials provider whose failures name the role: STS's refusal reaches
/// the run as [`RoleRefused`], with AWS's code and message, rather than as the SDK's debug text.
#[derive(Debug)]
struct NamedRole {
    role: String,
    inner: AssumeRoleProvider,
}

impl ProvideCredentials for NamedRole {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            self.inner.provide_credentials().await.map_err(|e| {
                let (code, message) = sts_code_and_message(&e);
                CredentialsError::provider_error(RoleRefused {
                    role: self.role.clone(),
                    code,
                    message,
                })
            })
        })
    }
}

/// STS would not give a role's credentials.
#[derive(Debug, thiserror::Error)]
#[error("cannot assume role {role}: {}{message}", code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
pub struct RoleRefused {
    pub role: String,
    /// AWS's error code, when STS answered (none: it could not be reached).
    pub code: Option<String>,
    pub message: String,
}

/// AWS's code and message in a credentials error from AssumeRole, else its chain of causes.
fn sts_code_and_message(e: &CredentialsError) -> (Option<String>, String) {
    type AssumeRoleSdkError = SdkError<
        aws_sdk_sts::operation::assume_role::AssumeRoleError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(sdk) = s.downcast_ref::<AssumeRoleSdkError>()
            && let Some(code) = sdk.as_service_error().and_then(ProvideErrorMetadata::code)
        {
            let message = sdk
                .as_service_error()
                .and_then(ProvideErrorMetadata::message)
                .unwrap_or_default();
            return (Some(code.to_string()), message.to_string());
        }
        source = s.source();
    }
    (
        None,
        aws_smithy_types::error::display::DisplayErrorContext(e).to_string(),
    )
}

/// Where the standard chain looks, in its order, for the messages of a run without credentials.
const STANDARD_CHAIN: &str = "the standard AWS chain (no inputs.aws.credentials): environment \
(AWS_ACCESS_KEY_ID), shared profile (~/.aws/credentials, AWS_PROFILE), web identity \
(AWS_WEB_IDENTITY_TOKEN_FILE, IRSA), ECS container credentials, EC2 instance role";

/// Error codes that mean the identity is wrong or not allowed: a human must act.
const CREDENTIALS_CODES: &[&str] = &[
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "AccessDenied",
    "AccessDeniedException",
    "AuthFailure",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidAccessKeyId",
];
/// STS's answers to AssumeRole that a human must act on: a trust policy that does not name the
/// caller, a wrong external id, a role in another partition, a malformed ARN, a region where STS
/// is off.
const ROLE_REFUSED_CODES: &[&str] = &[
    "AccessDenied",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ValidationError",
    "InvalidParameterValue",
    "MalformedPolicyDocument",
    "RegionDisabledException",
    "PackedPolicyTooLarge",
];

/// The [`RoleRefused`] among an error's causes (from `source` down), if credentials failed for it.
fn role_refused<'e>(
    mut source: Option<&'e (dyn std::error::Error + 'static)>,
) -> Option<&'e RoleRefused> {
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<RoleRefused>() {
            return Some(refused);
        }
        source = s.source();
    }
    None
}

/// Error codes that mean a configured resource does not exist: a human must act.
const MISSING_CODES: &[&str] = &[
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "ResourceNotFoundException",
    "NoSuchBucket",
    // HeadBucket and HeadObject: no such bucket or object.
    "NotFound",
];

impl Aws {
    /// The failure of an AWS call on `what` (such as `SQS queue q in us-east-1`), classified:
    /// bad credentials and missing resources are config errors (exit 3), naming where the
    /// credentials came from; everything else is temporary (exit 4).
    pub fn failure<E, R>(&self, what: &str, e: &SdkError<E, R>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        if let Some(refused) = role_refused(std::error::Error::source(e)) {
            // The credentials, not the call: said the same whatever the call was.
            let outcome = match refused.code.as_deref() {
                Some(code) if ROLE_REFUSED_CODES.contains(&code) => Outcome::Config,
                _ => Outcome::Temporary,
            };
            return Failure::new(
                outcome,
                format!("{refused} (credentials from {})", self.credentials_source),
            );
        }
        let code = e.as_service_error().and_then(ProvideErrorMetadata::code);
        let reason = format!("{what}: {}", aws_error(e));
        match code {
            Some(c) if CREDENTIALS_CODES.contains(&c) => Failure::new(
                Outcome::Config,
                format!("{reason} (credentials from {})", self.credentials_source),
            ),
            // No credentials anywhere: no retry will find some.
            None if reason.contains("no providers in chain provided credentials")
                || reason.contains("credential provider was not enabled")
                || reason.contains("failed to load credentials") =>
            {
                Failure::new(
                    Outcome::Config,
                    format!(
                        "{what}: no AWS credentials found; looked in {}",
                        self.credentials_source
                    ),
                )
            }
            Some(c) if MISSING_CODES.contains(&c) => Failure::new(Outcome::Config, reason),
            _ => Failure::new(Outcome::Temporary, reason),
        }
    }
}

/// The most useful line of an SDK error: its code and message when AWS sent one, else the
/// chain of causes.
pub fn aws_error<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            match (err.code(), err.message()) {
                (Some(code), Some(msg)) => format!("{code}: {msg}"),
                (Some(code), None) => code.to_string(),
                _ => err.to_string(),
            }
        }
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}
