//! `mytriage exporter`: the triage as Prometheus metrics, over HTTP on loopback.
//!
//! - `/metrics`: the server the connection flags name, with the load (average active sessions
//!   by wait class) from a background sampler averaged over `--window`;
//! - `/probe?target=NAME`: a target named in the `--targets` file, and nothing else: a name
//!   not in the file, or a host, is refused (400) and connects nowhere;
//! - `/status` (and `/status?target=NAME`): the same report as `status --format json`.
//!
//! Each scrape opens one connection, bounded by the session's own timeouts and by the scrape
//! timeout; scrapes of one target take turns, so a slow server never gets two at once. Whatever
//! happens, a scrape answers with `mytriage_up` and `mytriage_scrape_duration_seconds`.

pub(crate) mod metrics;
mod sampler;
pub(crate) mod targets;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};

use crate::connect::targets::HostEntry;
use crate::connect::{ConnectConfig, Session};
use crate::error::one_line;
use crate::render::{Format, ViewOptions};
use crate::server::ServerInfo;
use crate::workflow::status::{self, StatusReport};
use crate::workflow::thresholds::Thresholds;
use crate::workflow::triage;
use metrics::{Reading, ServerReading};

/// What `exporter` was asked for, checked before anything listens or connects.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub listen: SocketAddr,
    /// The targets `/probe` may read, from `--targets`.
    pub targets: Vec<targets::NamedTarget>,
    /// The longest a scrape may take; Prometheus's own scrape timeout lowers it.
    pub scrape_timeout: Duration,
    /// The load sampler: its interval and window, or `None` (`--no-aas`).
    pub sampler: Option<sampler::Pace>,
    pub limits: Thresholds,
}

pub(crate) use sampler::Pace as SamplerPace;

/// One server the exporter reads, with the lock that keeps its scrapes from overlapping.
struct Target {
    name: String,
    config: ConnectConfig,
    turn: tokio::sync::Mutex<()>,
    /// Whether the last scrape reached it: a failure is logged when this changes, not on
    /// every scrape.
    was_up: AtomicBool,
}

impl Target {
    fn new(name: &str, config: ConnectConfig) -> Arc<Target> {
        Arc::new(Target {
            name: name.to_owned(),
            config,
            turn: tokio::sync::Mutex::new(()),
            was_up: AtomicBool::new(true),
        })
    }
}

/// The running exporter's state, shared by every request.
struct Exporter {
    main: Arc<Target>,
    targets: BTreeMap<String, Arc<Target>>,
    scrape_timeout: Duration,
    limits: Thresholds,
    load: Option<sampler::Load>,
}

/// Serves until Ctrl-C. `main` is the server of `/metrics`; `targets` the resolved targets file.
///
/// Everything runs on the one thread of the runtime (requests, scrapes, the sampler) as local
/// tasks: the work is waiting on servers, and a session is not shared between threads.
pub(crate) async fn run(
    options: &Options,
    main: ConnectConfig,
    targets: Vec<(String, ConnectConfig)>,
) -> Result<()> {
    tokio::task::LocalSet::new()
        .run_until(serve(options, main, targets))
        .await
}

async fn serve(
    options: &Options,
    main: ConnectConfig,
    targets: Vec<(String, ConnectConfig)>,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let address = listener.local_addr()?;
    if !address.ip().is_loopback() {
        eprintln!(
            "mytriage: [Warning] listening on {address}, beyond loopback: anyone who reaches it reads what the server's sessions run"
        );
    }
    let load = options
        .sampler
        .as_ref()
        .map(|pace| sampler::start(main.clone(), pace.clone()));
    let exporter = Arc::new(Exporter {
        main: Target::new("", main),
        targets: targets
            .into_iter()
            .map(|(name, config)| (name.clone(), Target::new(&name, config)))
            .collect(),
        scrape_timeout: options.scrape_timeout,
        limits: options.limits.clone(),
        load,
    });
    eprintln!("mytriage: exporter listening on http://{address}/metrics");
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted.context("accepting a connection")?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let exporter = exporter.clone();
        tokio::task::spawn_local(async move {
            let service = hyper::service::service_fn(move |request| {
                let exporter = exporter.clone();
                async move { Ok::<_, std::convert::Infallible>(exporter.answer(request).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            // A client that hangs up mid-answer is its own business.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

impl Exporter {
    async fn answer<B>(&self, request: Request<B>) -> Response<Full<Bytes>> {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n".to_owned());
        }
        let timeout = self.timeout_for(&request);
        let query = request.uri().query().unwrap_or("");
        match request.uri().path() {
            "/metrics" => self.metrics(&self.main, timeout).await,
            "/probe" => match self.named(query) {
                Ok(target) => self.metrics(&target, timeout).await,
                Err(refusal) => plain(StatusCode::BAD_REQUEST, refusal),
            },
            "/status" if query.is_empty() => self.status(&self.main, timeout).await,
            "/status" => match self.named(query) {
                Ok(target) => self.status(&target, timeout).await,
                Err(refusal) => plain(StatusCode::BAD_REQUEST, refusal),
            },
            "/" => plain(
                StatusCode::OK,
                "mytriage exporter: /metrics, /probe?target=NAME, /status\n".to_owned(),
            ),
            _ => plain(StatusCode::NOT_FOUND, "not found\n".to_owned()),
        }
    }

    /// The scrape timeout: `--scrape-timeout`, or less when Prometheus says it gives up
    /// sooner (`X-Prometheus-Scrape-Timeout-Seconds`), so the answer arrives before it does.
    fn timeout_for<B>(&self, request: &Request<B>) -> Duration {
        request
            .headers()
            .get("x-prometheus-scrape-timeout-seconds")
            .and_then(|v| v.to_str().ok()?.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| Duration::from_secs_f64(s * 0.9))
            .map_or(self.scrape_timeout, |t| t.min(self.scrape_timeout))
    }

    /// The target a query names (`target=NAME`), only ever one of the targets file's.
    /// Anything else is refused with the message of a 400, before anything connects.
    fn named(&self, query: &str) -> Result<Arc<Target>, String> {
        let mut names = url::form_urlencoded::parse(query.as_bytes())
            .filter(|(key, _)| key == "target")
            .map(|(_, value)| value.into_owned());
        let (Some(name), None) = (names.next(), names.next()) else {
            return Err(
                "say which target: ?target=NAME, once, a name from the exporter's --targets file\n"
                    .to_owned(),
            );
        };
        self.targets.get(&name).cloned().ok_or_else(|| {
            format!(
                "unknown target '{}': only the names in the exporter's --targets file are probed, never a host given in the URL\n",
                name.escape_default()
            )
        })
    }

    async fn metrics(&self, target: &Target, timeout: Duration) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let outcome = scrape(target, timeout, &self.limits).await;
        let server = outcome
            .ok()
            .map(|(report, deadlocks)| ServerReading::of(&report, deadlocks));
        let reading = Reading {
            up: server.is_some(),
            duration_s: started.elapsed().as_secs_f64(),
            server,
            // The load is the configured server's; a probed target has no sampler.
            aas_by_wait: if std::ptr::eq(target, &*self.main) {
                self.load.as_ref().and_then(sampler::Load::by_wait)
            } else {
                None
            },
        };
        let mut response = Response::new(Full::new(Bytes::from(metrics::encode_reading(&reading))));
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(metrics::CONTENT_TYPE),
        );
        response
    }

    async fn status(&self, target: &Target, timeout: Duration) -> Response<Full<Bytes>> {
        match scrape(target, timeout, &self.limits).await {
            Ok((report, _)) => {
                let mut body = Vec::new();
                // Rendered as `status --format json` renders it: the same document.
                let _ = crate::render::render(
                    &report,
                    Format::Json,
                    &ViewOptions::default(),
                    &mut body,
                );
                json(StatusCode::OK, body)
            }
            Err(error) => {
                let body = serde_json::json!({"error": one_line(&error)}).to_string();
                json(StatusCode::SERVICE_UNAVAILABLE, body.into_bytes())
            }
        }
    }
}

/// One scrape: waits for the target's turn, opens one connection, takes the triage snapshot
/// and the deadlock counter in its first round trip, and closes it; all within `timeout`.
async fn scrape(
    target: &Target,
    timeout: Duration,
    limits: &Thresholds,
) -> Result<(StatusReport, Option<u64>)> {
    let work = async {
        let _turn = target.turn.lock().await;
        read(&target.config, limits).await
    };
    let outcome = match tokio::time::timeout(timeout, work).await {
        Ok(outcome) => outcome,
        Err(_) => Err(anyhow!(
            "no answer from {} within the scrape timeout ({timeout:?})",
            target.config.target()
        )),
    };
    let up = outcome.is_ok();
    if target.was_up.swap(up, Ordering::Relaxed) != up {
        let name = if target.name.is_empty() {
            target.config.target()
        } else {
            format!("target {}", target.name)
        };
        match &outcome {
            Err(error) => eprintln!("mytriage: scraping {name} failed: {}", one_line(error)),
            Ok(_) => eprintln!("mytriage: {name} answers again"),
        }
    }
    outcome
}

/// The triage's statements and the deadlock counter, all in the first round trip.
fn statements(server: &ServerInfo) -> Vec<&'static str> {
    let mut all = vec![deadlocks_query(server)];
    all.extend(triage::statements(server));
    all
}

fn deadlocks_query(server: &ServerInfo) -> &'static str {
    if server.flavor.is_mariadb() {
        crate::queries::DEADLOCKS_TOTAL_MARIADB
    } else {
        crate::queries::DEADLOCKS_TOTAL_MYSQL
    }
}

async fn read(config: &ConnectConfig, limits: &Thresholds) -> Result<(StatusReport, Option<u64>)> {
    let mut session = Session::open(config, &statements).await?;
    // Taken before the triage, which forgets what it did not read itself.
    let deadlocks = session
        .db
        .query_if_permitted::<(String, String)>(
            "reading the deadlock counter",
            deadlocks_query(&session.server),
        )
        .await
        .ok()
        .flatten()
        .and_then(|rows| rows.first()?.1.parse::<u64>().ok());
    let report = status::collect(&mut session, limits).await;
    session.close().await;
    Ok((report?, deadlocks))
}

fn plain(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// The targets file's hosts, for the caller to resolve with the shared connection flags.
pub(crate) fn hosts(options: &Options) -> impl Iterator<Item = (&str, &HostEntry)> {
    options.targets.iter().map(|t| (t.name.as_str(), &t.host))
}
