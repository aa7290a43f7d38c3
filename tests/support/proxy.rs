//! A counting, delaying TCP proxy on loopback, between a test (or a benchmark) and a real server.
//!
//! It counts the client's *turns*: each time the client sends after the server has spoken (or
//! first), one turn. A handshake, a query and its answer, a batch of statements sent as one
//! multi-statement query: each is as many turns as the client waits for the server in between.
//! That is what a 20 ms link makes expensive, and it is a count, not a time, so a test on it
//! cannot flake. With a delay, every chunk waits half of it in each direction: a simulated RTT.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

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
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on an ephemeral loopback port and forwards every connection to `upstream`,
    /// delaying each chunk by `rtt / 2` in each direction.
    pub async fn start(upstream: SocketAddr, rtt: Duration) -> Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the proxy")?;
        let addr = listener.local_addr()?;
        let turns = Arc::new(AtomicU64::new(0));
        let open = Arc::new(AtomicU64::new(0));
        let (counter, relayed) = (turns.clone(), open.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                let relayed = relayed.clone();
                relayed.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, counter, rtt / 2).await;
                    }
                    relayed.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Ok(Proxy {
            addr,
            turns,
            open,
            accept,
        })
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
/// after a server chunk (or the first one) starts a new turn.
async fn relay(client: TcpStream, server: TcpStream, turns: Arc<AtomicU64>, delay: Duration) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let client_spoke = Arc::new(AtomicBool::new(false));
    let up = {
        let client_spoke = client_spoke.clone();
        async move {
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                let n = match client_read.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if !client_spoke.swap(true, Ordering::SeqCst) {
                    turns.fetch_add(1, Ordering::SeqCst);
                }
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                if server_write.write_all(&buffer[..n]).await.is_err() {
                    break;
                }
            }
            let _ = server_write.shutdown().await;
        }
    };
    let down = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            client_spoke.store(false, Ordering::SeqCst);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if client_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(up, down);
}
