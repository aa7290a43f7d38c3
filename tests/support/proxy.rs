//! A counting, delaying TCP proxy on loopback, between a test (or a benchmark) and a real server.
//!
//! It counts the client's *turns*: each time the client sends after the server has spoken (or
//! first), one turn. A handshake, a query and its answer, a batch of statements sent as one
//! multi-statement query: each is as many turns as the client waits for the server in between.
//! That is what a 20 ms link makes expensive, and it is a count, not a time, so a test on it
//! cannot flake. With a delay, every chunk waits half of it in each direction: a simulated RTT.
//! [`Proxy::freeze`] holds every byte in both directions until thawed: to its clients the server
//! hangs as if stopped with SIGSTOP, while the server itself, shared with other tests, runs on.
// benches/rtt.rs includes this file alone, and never freezes.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running proxy; dropped, it stops accepting.
pub struct Proxy {
    pub addr: SocketAddr,
    turns: Arc<AtomicU64>,
    /// Connections relayed now.
    open: Arc<AtomicU64>,
    /// Whether bytes are held (see [`Proxy::freeze`]).
    frozen: tokio::sync::watch::Sender<bool>,
    accept: JoinHandle<()>,
}

/// Holds the proxy frozen; dropped, it thaws it, so a failing test never leaves a client hung.
pub struct Frozen<'a>(&'a Proxy);

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        self.0.frozen.send_replace(false);
    }
}

impl Proxy {
    /// Listens on an ephemeral loopback port and forwards every connection to `upstream`,
    /// delivering each chunk `rtt / 2` late in each direction.
    pub async fn start(upstream: SocketAddr, rtt: Duration) -> Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the proxy")?;
        let addr = listener.local_addr()?;
        let turns = Arc::new(AtomicU64::new(0));
        let open = Arc::new(AtomicU64::new(0));
        let (counter, relayed) = (turns.clone(), open.clone());
        let (frozen, thawed) = tokio::sync::watch::channel(false);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                let relayed = relayed.clone();
                let thawed = thawed.clone();
                relayed.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, counter, rtt / 2, thawed).await;
                    }
                    relayed.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Ok(Proxy {
            addr,
            turns,
            open,
            frozen,
            accept,
        })
    }

    /// Holds every byte, both ways and on every connection (new ones too), until the guard is
    /// dropped; what was held is then delivered in order. Bytes are still read meanwhile, as a
    /// stopped server's kernel still takes them in.
    pub fn freeze(&self) -> Frozen<'_> {
        self.frozen.send_replace(true);
        Frozen(self)
    }

    /// Client turns since the start or the last [`Proxy::reset`], over all connections, once
    /// every connection has closed (a client's last packet may still be on its way when the
    /// client process has already exited).
    pub async fn turns(&self) -> u64 {
        for _ in 0..200 {
            if self.open.load(Ordering::SeqCst) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.turns.load(Ordering::SeqCst)
    }

    pub fn reset(&self) {
        self.turns.store(0, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Copies both ways until either side closes. `client_spoke` says who sent last: a client chunk
/// after a server chunk (or the first one) starts a new turn. Each chunk is delivered `delay`
/// after it arrived, in order, and chunks in flight do not wait for each other: latency, not a
/// narrow pipe.
async fn relay(
    client: TcpStream,
    server: TcpStream,
    turns: Arc<AtomicU64>,
    delay: Duration,
    frozen: tokio::sync::watch::Receiver<bool>,
) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let client_spoke = Arc::new(AtomicBool::new(false));
    let spoke = client_spoke.clone();
    let up = pipe(
        client_read,
        server_write,
        delay,
        frozen.clone(),
        move || {
            if !spoke.swap(true, Ordering::SeqCst) {
                turns.fetch_add(1, Ordering::SeqCst);
            }
        },
    );
    let down = pipe(server_read, client_write, delay, frozen, move || {
        client_spoke.store(false, Ordering::SeqCst);
    });
    tokio::join!(up, down);
}

/// One direction: read chunks as they come, note each (`seen`), and write each one `delay`
/// after it was read, and not while the proxy is frozen.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    mut frozen: tokio::sync::watch::Receiver<bool>,
    seen: impl Fn(),
) {
    let (send, mut receive) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            seen();
            if send
                .send((Instant::now() + delay, buffer[..n].to_vec()))
                .is_err()
            {
                break;
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = receive.recv().await {
            tokio::time::sleep_until(due).await;
            if frozen.wait_for(|held| !held).await.is_err() {
                break; // the proxy is gone
            }
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
