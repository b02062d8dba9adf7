//! A TCP relay for `make bench` that puts a round trip between devo-aws and the test receiver:
//! every chunk, in each direction, is passed on half the round trip after it arrived, in order and
//! without a bandwidth limit. So the TLS handshake and the close exchange each cost what they cost
//! across a WAN. The TCP connect itself stays local (the kernel answers it), so a connection costs
//! one round trip less than across a real WAN.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Listens on a local port and relays each connection to `upstream` with `rtt` of round trip.
pub fn start(upstream: u16, rtt: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            relay(client, server, rtt / 2);
            relay(s2, c2, rtt / 2);
        }
    });
    port
}

/// Passes what `from` sends on to `to`, each chunk `delay` after it arrived.
fn relay(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => {
                    // The end, as an empty chunk: it reaches the other side `delay` later too.
                    let _ = tx.send((Instant::now() + delay, Vec::new()));
                    return;
                }
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    });
    std::thread::spawn(move || {
        for (due, chunk) in rx {
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            if chunk.is_empty() {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            if to.write_all(&chunk).is_err() {
                let _ = to.shutdown(Shutdown::Both);
                return;
            }
        }
    });
}
