//! A fast AWS stand-in for `make bench`: SQS (JSON protocol: GetQueueUrl, GetQueueAttributes,
//! ReceiveMessage with visibility and receive counts, DeleteMessageBatch,
//! ChangeMessageVisibilityBatch, SendMessageBatch), S3 GetObject, HeadBucket and ListObjectsV2
//! (path-style; prefix, delimiter, continuation, 1,000 keys a page), PutObject with `If-Match` /
//! `If-None-Match` (what S3 state writes, atomic) and STS GetCallerIdentity, served from memory by a tokio server that answers requests concurrently,
//! each after a set latency. moto answers one call at a time in 10-20 ms, so it measures itself;
//! this one lets a benchmark see what devo-aws does at the latency real AWS has. moto stays the
//! reference for behaviour in `make test`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const ACCOUNT: &str = "123456789012";

#[derive(Default)]
struct Queue {
    visible: VecDeque<(String, String, u32)>,
    /// receipt handle → (message id, body, receive count, visible again at)
    in_flight: HashMap<String, (String, String, u32, Instant)>,
    visibility: Duration,
}

#[derive(Default)]
struct State {
    queues: HashMap<String, Queue>,
    objects: BTreeMap<(String, String), Arc<Vec<u8>>>,
    /// The ETag of each object written by PutObject.
    etags: HashMap<(String, String), String>,
    next_id: u64,
}

/// The running stand-in; it lives until the process ends.
#[derive(Clone)]
pub struct StandIn {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    latency_ms: Arc<std::sync::atomic::AtomicU64>,
    /// GetObject requests being answered now, and the most there were at once.
    gets: Arc<(AtomicUsize, AtomicUsize)>,
}

impl StandIn {
    pub fn start() -> Self {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", std_listener.local_addr().unwrap());
        let standin = Self {
            endpoint,
            state: Arc::default(),
            latency_ms: Arc::default(),
            gets: Arc::default(),
        };
        let serving = standin.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = socket.set_nodelay(true);
                    let s = serving.clone();
                    tokio::spawn(async move { s.serve(socket).await });
                }
            });
        });
        standin
    }

    /// Every call waits this long before its answer.
    pub fn set_latency(&self, ms: u64) {
        self.latency_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn create_queue(&self, name: &str, visibility_secs: u64) {
        self.state.lock().unwrap().queues.insert(
            name.to_string(),
            Queue {
                visibility: Duration::from_secs(visibility_secs),
                ..Queue::default()
            },
        );
    }

    pub fn send(&self, queue: &str, bodies: impl IntoIterator<Item = String>) {
        let mut state = self.state.lock().unwrap();
        let mut id = state.next_id;
        let q = state.queues.get_mut(queue).expect("queue");
        for body in bodies {
            id += 1;
            q.visible.push_back((format!("m-{id}"), body, 0));
        }
        state.next_id = id;
    }

    pub fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) {
        self.state
            .lock()
            .unwrap()
            .objects
            .insert((bucket.to_string(), key.to_string()), Arc::new(body));
    }

    /// The most GetObject requests answered at once since the last call (and starts counting
    /// again).
    pub fn take_most_gets_at_once(&self) -> usize {
        self.gets.1.swap(0, Ordering::Relaxed)
    }

    /// (visible, in flight) messages of a queue.
    pub fn depth(&self, queue: &str) -> (usize, usize) {
        let state = self.state.lock().unwrap();
        let q = &state.queues[queue];
        (q.visible.len(), q.in_flight.len())
    }

    async fn serve(self, socket: tokio::net::TcpStream) {
        let (read, mut write) = socket.into_split();
        let mut read = BufReader::new(read);
        loop {
            let mut request_line = String::new();
            if read.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                return;
            }
            let mut headers = HashMap::new();
            loop {
                let mut line = String::new();
                if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let length: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; length];
            if read.read_exact(&mut body).await.is_err() {
                return;
            }
            let mut parts = request_line.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
            let object_get = method == "GET"
                && !path.contains("list-type=")
                && path.trim_start_matches('/').contains('/');
            if object_get {
                let now = self.gets.0.fetch_add(1, Ordering::Relaxed) + 1;
                self.gets.1.fetch_max(now, Ordering::Relaxed);
            }
            let latency = self.latency_ms.load(Ordering::Relaxed);
            if latency > 0 {
                tokio::time::sleep(Duration::from_millis(latency)).await;
            }
            let (status, content_type, answer) = self.answer(method, path, &headers, &body);
            if object_get {
                self.gets.0.fetch_sub(1, Ordering::Relaxed);
            }
            // (SQS and STS calls are POSTs: no object, no lookup.)
            let etag = (method != "POST")
                .then(|| self.etag_of(path))
                .flatten()
                .map(|e| format!("etag: {e}\r\n"))
                .unwrap_or_default();
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nx-amz-bucket-region: us-east-1\r\nx-amzn-requestid: standin\r\n{etag}\r\n",
                answer.len()
            );
            // A HEAD answer has a length and no body.
            let body: &[u8] = if method == "HEAD" { &[] } else { &answer };
            if write.write_all(head.as_bytes()).await.is_err()
                || write.write_all(body).await.is_err()
            {
                return;
            }
        }
    }

    fn answer(
        &self,
        method: &str,
        path: &str,
        headers: &HashMap<String, String>,
        body: &[u8],
    ) -> (&'static str, &'static str, Vec<u8>) {
        if let Some(target) = headers.get("x-amz-target") {
            let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let op = target.rsplit('.').next().unwrap_or("");
            return match self.sqs(op, &request) {
                Some(v) => ("200 OK", "application/x-amz-json-1.0", v.to_string().into_bytes()),
                None => (
                    "400 Bad Request",
                    "application/x-amz-json-1.0",
                    json!({"__type": "AWS.SimpleQueueService.NonExistentQueue", "message": "no such queue"})
                        .to_string()
                        .into_bytes(),
                ),
            };
        }
        if method == "POST" && String::from_utf8_lossy(body).contains("Action=GetCallerIdentity") {
            let xml = format!(
                "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:iam::{ACCOUNT}:user/bench</Arn><UserId>AIDABENCH</UserId><Account>{ACCOUNT}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>standin</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
            );
            return ("200 OK", "text/xml", xml.into_bytes());
        }
        if method == "HEAD" {
            return ("200 OK", "application/xml", Vec::new());
        }
        if method == "PUT" {
            return self.put(path, headers, body);
        }
        if method == "GET" && path.contains("list-type=2") {
            return ("200 OK", "application/xml", self.list(path).into_bytes());
        }
        if method == "GET" {
            let state = self.state.lock().unwrap();
            if let Some(object) = state.objects.get(&Self::object_of(path)) {
                return ("200 OK", "application/octet-stream", object.to_vec());
            }
            return (
                "404 Not Found",
                "application/xml",
                b"<Error><Code>NoSuchKey</Code><Message>no such key</Message></Error>".to_vec(),
            );
        }
        ("400 Bad Request", "text/plain", b"not served".to_vec())
    }

    /// The bucket and key of a path-style object path.
    fn object_of(path: &str) -> (String, String) {
        let path = path.split('?').next().unwrap_or("");
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let bucket = parts.next().unwrap_or("").to_string();
        (bucket, percent_decode(parts.next().unwrap_or("")))
    }

    /// The ETag of the object at `path`, when PutObject wrote it.
    fn etag_of(&self, path: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .etags
            .get(&Self::object_of(path))
            .cloned()
    }

    /// PutObject, its condition checked and the object stored at once, as S3 does.
    fn put(
        &self,
        path: &str,
        headers: &HashMap<String, String>,
        body: &[u8],
    ) -> (&'static str, &'static str, Vec<u8>) {
        let object = Self::object_of(path);
        let mut state = self.state.lock().unwrap();
        let refused = match (headers.get("if-none-match"), headers.get("if-match")) {
            (Some(_), _) => state.objects.contains_key(&object),
            (None, Some(wanted)) => state.etags.get(&object) != Some(wanted),
            (None, None) => false,
        };
        if refused {
            return (
                "412 Precondition Failed",
                "application/xml",
                b"<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>".to_vec(),
            );
        }
        state.next_id += 1;
        let etag = format!("\"e{}\"", state.next_id);
        state.etags.insert(object.clone(), etag);
        state.objects.insert(object, Arc::new(body.to_vec()));
        ("200 OK", "application/xml", Vec::new())
    }

    /// ListObjectsV2 of `/bucket?list-type=2&prefix=..&delimiter=..&continuation-token=..`: up to
    /// 1,000 keys and common prefixes, the token being the last one given.
    fn list(&self, path: &str) -> String {
        let (bucket, query) = path.split_once('?').unwrap_or((path, ""));
        let bucket = bucket.trim_matches('/').to_string();
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .map(percent_decode)
                .unwrap_or_default()
        };
        let (prefix, delimiter, after) = (
            param("prefix"),
            param("delimiter"),
            param("continuation-token"),
        );
        let state = self.state.lock().unwrap();
        let mut contents = String::new();
        let mut prefixes: Vec<String> = Vec::new();
        let (mut count, mut last, mut truncated) = (0, String::new(), false);
        let from = (bucket.clone(), prefix.clone());
        for ((b, key), body) in state.objects.range(from..) {
            if *b != bucket || !key.starts_with(&prefix) {
                break;
            }
            if !after.is_empty()
                && (key.as_str() <= after.as_str()
                    || (after.ends_with(&delimiter)
                        && !delimiter.is_empty()
                        && key.starts_with(&after)))
            {
                continue;
            }
            let rest = &key[prefix.len()..];
            let common = (!delimiter.is_empty())
                .then(|| rest.find(&delimiter))
                .flatten()
                .map(|i| format!("{prefix}{}", &rest[..i + delimiter.len()]));
            if count == 1000 {
                truncated = true;
                break;
            }
            match common {
                Some(p) if prefixes.last() == Some(&p) => continue,
                Some(p) => {
                    last = p.clone();
                    prefixes.push(p);
                }
                None => {
                    last = key.clone();
                    contents.push_str(&format!(
                        "<Contents><Key>{key}</Key><LastModified>2024-05-01T10:00:00.000Z</LastModified><ETag>\"standin\"</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
                        body.len()
                    ));
                }
            }
            count += 1;
        }
        let common: String = prefixes
            .iter()
            .map(|p| format!("<CommonPrefixes><Prefix>{p}</Prefix></CommonPrefixes>"))
            .collect();
        let next = if truncated {
            format!("<NextContinuationToken>{last}</NextContinuationToken>")
        } else {
            String::new()
        };
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{bucket}</Name><Prefix>{prefix}</Prefix><KeyCount>{count}</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>{delimiter}</Delimiter><IsTruncated>{truncated}</IsTruncated>{contents}{common}{next}</ListBucketResult>"
        )
    }

    fn sqs(&self, op: &str, r: &Value) -> Option<Value> {
        let mut state = self.state.lock().unwrap();
        let queue_of = |r: &Value| {
            r["QueueUrl"]
                .as_str()
                .and_then(|u| u.rsplit('/').next())
                .map(String::from)
        };
        match op {
            "GetQueueUrl" => {
                let name = r["QueueName"].as_str()?;
                state
                    .queues
                    .contains_key(name)
                    .then(|| json!({"QueueUrl": format!("{}/{ACCOUNT}/{name}", self.endpoint)}))
            }
            "GetQueueAttributes" => {
                let q = state.queues.get(&queue_of(r)?)?;
                Some(json!({"Attributes": {
                    "VisibilityTimeout": q.visibility.as_secs().to_string(),
                    "ApproximateNumberOfMessages": q.visible.len().to_string(),
                    "MessageRetentionPeriod": "345600",
                }}))
            }
            "ReceiveMessage" => {
                let name = queue_of(r)?;
                let mut id = state.next_id;
                let q = state.queues.get_mut(&name)?;
                let now = Instant::now();
                let expired: Vec<String> = q
                    .in_flight
                    .iter()
                    .filter(|(_, m)| m.3 <= now)
                    .map(|(h, _)| h.clone())
                    .collect();
                for h in expired {
                    if let Some((mid, body, count, _)) = q.in_flight.remove(&h) {
                        q.visible.push_back((mid, body, count));
                    }
                }
                let want = r["MaxNumberOfMessages"].as_u64().unwrap_or(1).min(10) as usize;
                let mut out = Vec::new();
                while out.len() < want {
                    let Some((mid, body, count)) = q.visible.pop_front() else {
                        break;
                    };
                    id += 1;
                    let handle = format!("h-{id}");
                    out.push(json!({"MessageId": mid, "ReceiptHandle": handle, "Body": body}));
                    q.in_flight
                        .insert(handle, (mid, body, count + 1, now + q.visibility));
                }
                state.next_id = id;
                Some(json!({"Messages": out}))
            }
            "DeleteMessageBatch" | "ChangeMessageVisibilityBatch" => {
                let q = state.queues.get_mut(&queue_of(r)?)?;
                let mut ok = Vec::new();
                for e in r["Entries"].as_array()? {
                    let handle = e["ReceiptHandle"].as_str().unwrap_or("");
                    if op == "DeleteMessageBatch" {
                        q.in_flight.remove(handle);
                    } else if let Some(m) = q.in_flight.get_mut(handle) {
                        m.3 = Instant::now()
                            + Duration::from_secs(e["VisibilityTimeout"].as_u64().unwrap_or(0));
                    }
                    ok.push(json!({"Id": e["Id"]}));
                }
                Some(json!({"Successful": ok, "Failed": []}))
            }
            "SendMessageBatch" => {
                let name = queue_of(r)?;
                let mut id = state.next_id;
                let q = state.queues.get_mut(&name)?;
                let mut ok = Vec::new();
                for e in r["Entries"].as_array()? {
                    id += 1;
                    let mid = format!("m-{id}");
                    q.visible.push_back((
                        mid.clone(),
                        e["MessageBody"].as_str().unwrap_or("").to_string(),
                        0,
                    ));
                    ok.push(json!({"Id": e["Id"], "MessageId": mid}));
                }
                state.next_id = id;
                Some(json!({"Successful": ok, "Failed": []}))
            }
            _ => None,
        }
    }
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}
