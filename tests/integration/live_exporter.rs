//! `mytriage exporter`: what a scrape answers on a live incident, that `/probe` only ever reads
//! the targets file's names (a host in the URL is refused and connects nowhere), and that a
//! hung server still gets an answer within the scrape timeout, `mytriage_up 0`.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{self, Mytriage, proxy::Proxy, scenarios};

/// A running exporter; killed when dropped.
pub struct Exporter {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// What it said on stderr, line by line.
    pub stderr: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Exporter {
    /// Starts `mytriage [global] exporter --listen 127.0.0.1:0 [args]` and waits until it listens.
    pub fn start(run: Mytriage) -> Exporter {
        let mut child = run.args(["--listen", "127.0.0.1:0"]).spawn();
        let stderr = child.stderr.take().expect("piped stderr");
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (found, address) = std::sync::mpsc::channel();
        let kept = lines.clone();
        // Drains stderr for the exporter's whole life, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = found.send(rest.trim_end_matches("/metrics").to_owned());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let Ok(address) = address.recv_timeout(Duration::from_secs(20)) else {
            let _ = child.kill();
            panic!("the exporter did not start: {:?}", lines.lock().unwrap());
        };
        Exporter {
            child,
            base: format!("http://{address}"),
            stderr: lines,
        }
    }

    /// GET `path`: the status code and the body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        get(&format!("{}{path}", self.base)).await
    }

    /// The value of an unlabelled sample in `/metrics`-style text.
    pub fn value(text: &str, name: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET a URL: the status code and the body.
pub async fn get(url: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.expect("a text body"))
}

/// A listener that accepts connections, counts them, and never says a word: a server hung
/// before its greeting, or a host that must never be contacted. It also notes when each
/// connection arrived.
struct Silent {
    port: u16,
    accepted: Arc<AtomicU64>,
    arrivals: Arc<std::sync::Mutex<Vec<Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Silent {
    async fn start() -> Silent {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicU64::new(0));
        let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (count, noted) = (accepted.clone(), arrivals.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                noted.lock().unwrap().push(Instant::now());
                // Held open, unanswered, until the client hangs up.
                tokio::spawn(async move {
                    let mut buffer = [0u8; 256];
                    while matches!(stream.read(&mut buffer).await, Ok(n) if n > 0) {}
                });
            }
        });
        Silent {
            port,
            accepted,
            arrivals,
            task,
        }
    }

    fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().unwrap().clone()
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn exporter_probe_refuses_unknown_names_and_hosts_and_connects_nowhere() {
    let main = Silent::start().await;
    let known = Silent::start().await;
    let elsewhere = Silent::start().await;
    let dir = tempfile::tempdir().unwrap();
    let targets = dir.path().join("targets");
    std::fs::write(&targets, format!("known = 127.0.0.1:{}\n", known.port)).unwrap();
    let exporter = Exporter::start(
        Mytriage::new(&format!("mysql://root@127.0.0.1:{}", main.port))
            .args([
                "exporter",
                "--no-aas",
                "--scrape-timeout",
                "1s",
                "--targets",
            ])
            .arg(&targets),
    );
    let host = format!("127.0.0.1:{}", elsewhere.port);
    let url = format!("mysql%3A%2F%2Froot%40127.0.0.1%3A{}%2F", elsewhere.port);
    for path in [
        format!("/probe?target={host}"),
        format!("/probe?target={url}"),
        "/probe?target=unknown".to_owned(),
        "/probe".to_owned(),
        "/probe?target=known&target=other".to_owned(),
        format!("/status?target={host}"),
    ] {
        let (status, body) = exporter.get(&path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(!body.contains("mytriage_up"), "{path}: {body}");
    }
    let (_, body) = exporter.get(&format!("/probe?target={host}")).await;
    assert!(body.contains("never a host given in the URL"), "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(elsewhere.accepted(), 0, "the host in the URL was contacted");
    assert_eq!(known.accepted(), 0, "a refused request reached a target");
    assert_eq!(
        main.accepted(),
        0,
        "a refused request reached the main server"
    );
    // The counters do count: a name from the file is probed (and, silent, is down).
    let started = Instant::now();
    let (status, body) = exporter.get("/probe?target=known").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(known.accepted(), 1);
    assert_eq!(Exporter::value(&body, "mytriage_up"), Some(0.0), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn exporter_answers_within_its_timeout_when_the_server_hangs() {
    let hung = Silent::start().await;
    let exporter = Exporter::start(
        Mytriage::new(&format!("mysql://root@127.0.0.1:{}", hung.port)).args([
            "--connect-timeout",
            "30s",
            "exporter",
            "--no-aas",
            "--scrape-timeout",
            "1500ms",
        ]),
    );
    // Two scrapes at once: they take turns on the one target, and each still answers in time.
    let started = Instant::now();
    let (first, second) = tokio::join!(exporter.get("/metrics"), exporter.get("/metrics"));
    let elapsed = started.elapsed();
    for (status, body) in [first, second] {
        assert_eq!(status, 200);
        assert_eq!(Exporter::value(&body, "mytriage_up"), Some(0.0), "{body}");
        let duration = Exporter::value(&body, "mytriage_scrape_duration_seconds").unwrap();
        assert!((1.4..3.0).contains(&duration), "{duration}");
    }
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    // The second waited for the first to give up (at its 1.5 s timeout) before connecting.
    let arrivals = hung.arrivals();
    assert!(!arrivals.is_empty() && arrivals.len() <= 2, "{arrivals:?}");
    if let [first, second] = arrivals[..] {
        let gap = second - first;
        assert!(
            gap >= Duration::from_millis(1400),
            "scrapes overlapped: {gap:?} apart"
        );
    }
    let said = exporter.stderr.lock().unwrap().join("\n");
    assert!(said.contains("within the scrape timeout"), "{said}");
}

#[tokio::test]
async fn exporter_reports_an_idle_root_blocker_and_status_is_the_status_document() {
    for server in support::servers() {
        support::announce(
            "exporter /metrics and /status on an idle root blocker",
            &server,
        );
        let incident = scenarios::idle_blocker(&server).await.unwrap();
        let (holder, decoy) = (incident.holder_id, incident.decoy_id);
        let exporter = Exporter::start(Mytriage::new(&server.url).args([
            "exporter",
            "--window",
            "2s",
            "--sample-interval",
            "200ms",
        ]));
        tokio::time::sleep(Duration::from_millis(700)).await;
        let (status, metrics) = exporter.get("/metrics").await;
        let (_, document) = exporter.get("/status").await;
        let cli = Mytriage::new(&server.url)
            .args(["status"])
            .json_async()
            .await;
        incident.cleanup().await.unwrap();
        assert_eq!(status, 200, "{metrics}");
        assert_eq!(
            Exporter::value(&metrics, "mytriage_up"),
            Some(1.0),
            "{metrics}"
        );
        for name in ["mytriage_idle_root_blockers", "mytriage_blocked_sessions"] {
            let value = Exporter::value(&metrics, name).unwrap_or(0.0);
            assert!(value >= 1.0, "{name} {value}:\n{metrics}");
        }
        assert!(
            Exporter::value(&metrics, "mytriage_idle_in_trx_oldest_seconds").unwrap() >= 1.0,
            "the decoy and the holder idle in their transactions:\n{metrics}"
        );
        assert!(metrics.contains("mytriage_deadlocks_total "), "{metrics}");
        assert!(
            metrics.contains("mytriage_aas{wait_class=\"row lock\"}"),
            "{metrics}"
        );
        let document: Value = serde_json::from_str(&document).expect("/status is JSON");
        let roots: Vec<u64> = document["triage"]["locks"]["roots"]
            .as_array()
            .expect("roots")
            .iter()
            .filter_map(|r| r["pid"].as_u64())
            .collect();
        // The same culprit as `status`: the holder, never the older decoy (idle, blocking nobody).
        assert!(
            roots.contains(&holder),
            "holder {holder} not among {roots:?}"
        );
        assert!(
            !roots.contains(&decoy),
            "the decoy {decoy} is a root: {roots:?}"
        );
        assert_eq!(support::json_keys(&document), support::json_keys(&cli));
        assert_eq!(
            support::json_keys(&document["triage"]),
            support::json_keys(&cli["triage"])
        );
    }
}

#[tokio::test]
async fn exporter_reports_down_within_its_timeout_when_the_server_hangs_mid_session() {
    for server in support::servers() {
        support::announce("exporter with a frozen connection (proxy)", &server);
        let upstream = server.url.rsplit(':').next().unwrap().trim_end_matches('/');
        let upstream: std::net::SocketAddr = format!("127.0.0.1:{upstream}").parse().unwrap();
        let proxy = Proxy::start(upstream, Duration::ZERO).await.unwrap();
        let url = format!("mysql://root@127.0.0.1:{}", proxy.addr.port());
        let exporter = Exporter::start(Mytriage::new(&url).args([
            "exporter",
            "--no-aas",
            "--scrape-timeout",
            "1s",
        ]));
        let (_, before) = exporter.get("/metrics").await;
        assert_eq!(
            Exporter::value(&before, "mytriage_up"),
            Some(1.0),
            "{before}"
        );
        let frozen = proxy.freeze();
        let started = Instant::now();
        let (status, during) = exporter.get("/metrics").await;
        let elapsed = started.elapsed();
        drop(frozen);
        assert_eq!(status, 200);
        assert_eq!(
            Exporter::value(&during, "mytriage_up"),
            Some(0.0),
            "{during}"
        );
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
        let (_, after) = exporter.get("/metrics").await;
        assert_eq!(Exporter::value(&after, "mytriage_up"), Some(1.0), "{after}");
    }
}

#[test]
fn exporter_refuses_bad_input_in_one_line_before_listening() {
    let dir = tempfile::tempdir().unwrap();
    let targets = dir.path().join("targets");
    std::fs::write(&targets, "db1 = 127.0.0.1:1\ndb1 = 127.0.0.1:2\n").unwrap();
    let missing = dir.path().join("missing");
    let cases: [(Vec<std::ffi::OsString>, String); 3] = [
        (
            vec!["--listen".into(), "localhost".into()],
            "--listen 'localhost' is not an address and port".to_owned(),
        ),
        (
            vec!["--targets".into(), targets.clone().into()],
            "line 2: target 'db1' is named twice".to_owned(),
        ),
        (
            vec!["--targets".into(), missing.clone().into()],
            format!("cannot read --targets {}", missing.display()),
        ),
    ];
    for (args, says) in cases {
        let output = Mytriage::new("mysql://root@127.0.0.1:1")
            .arg("exporter")
            .args(&args)
            .output();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&says), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(!stderr.contains("listening"), "{stderr}");
    }
}
