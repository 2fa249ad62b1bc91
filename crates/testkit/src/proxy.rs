//! [`PgProxy`]: a TCP relay in front of a [`PgServer`](crate::PgServer) that can cut a
//! connection at a chosen moment, to test what a client does when its connection dies
//! mid-conversation (for example right after it sent `COMMIT`).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::url_for;

/// What to do with the client's message that contains the marker of an armed cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Forward it to the server, then cut the connection: the server acts on it, and its
    /// answer never reaches the client.
    AfterForwarding,
    /// Cut the connection without forwarding it: the server never sees it.
    BeforeForwarding,
}

/// A TCP relay on a free loopback port to a PostgreSQL server, for fault injection.
///
/// Every connection to [`port`](Self::port) is relayed to the server. After
/// [`cut_at`](Self::cut_at), the first chunk a client sends that contains the marker (for
/// example `b"COMMIT\0"`, the simple-query message `tokio_postgres` sends to commit a
/// transaction) makes the relay cut that connection, once. Dropping the relay closes every
/// connection through it.
#[derive(Debug)]
pub struct PgProxy {
    port: u16,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    armed: Mutex<Option<(Vec<u8>, Cut)>>,
    cuts: AtomicUsize,
    stopped: AtomicBool,
    streams: Mutex<Vec<TcpStream>>,
}

impl Shared {
    /// Takes the armed cut if `chunk` contains its marker.
    fn trips(&self, chunk: &[u8]) -> Option<Cut> {
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        let (marker, cut) = armed.as_ref()?;
        let found = chunk.windows(marker.len()).any(|w| w == marker.as_slice());
        let cut = *cut;
        found.then(|| {
            *armed = None;
            self.cuts.fetch_add(1, Ordering::SeqCst);
            cut
        })
    }
}

impl PgProxy {
    /// Starts relaying a free loopback port to the server listening on `127.0.0.1:server_port`.
    pub fn start(server_port: u16) -> PgProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("the bound address").port();
        let shared = Arc::new(Shared::default());
        let accepting = Arc::clone(&shared);
        thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", server_port)) else {
                    continue; // the client sees its connection close, as if refused
                };
                relay(&accepting, client, server);
            }
        });
        PgProxy { port, shared }
    }

    /// The loopback port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `database` through the relay (as the test kit's superuser).
    pub fn url(&self, database: &str) -> String {
        url_for(self.port, database)
    }

    /// Arms a cut: the next chunk a client sends that contains `marker` cuts its connection as
    /// `cut` says. Replaces a cut armed before that has not tripped.
    pub fn cut_at(&self, marker: &[u8], cut: Cut) {
        assert!(!marker.is_empty(), "an empty marker");
        *self.shared.armed.lock().unwrap_or_else(|e| e.into_inner()) = Some((marker.to_vec(), cut));
    }

    /// How many armed cuts have tripped.
    pub fn cuts(&self) -> usize {
        self.shared.cuts.load(Ordering::SeqCst)
    }
}

/// Relays one connection in both directions, each on its own thread.
fn relay(shared: &Arc<Shared>, client: TcpStream, server: TcpStream) {
    let clones = (client.try_clone(), server.try_clone());
    let (Ok(client_reader), Ok(server_reader)) = clones else {
        return;
    };
    {
        let mut streams = shared.streams.lock().unwrap_or_else(|e| e.into_inner());
        for stream in [&client, &server] {
            if let Ok(stream) = stream.try_clone() {
                streams.push(stream);
            }
        }
    }
    // Set before anything of a cut message is forwarded: no answer reaches the client after it.
    let cut = Arc::new(AtomicBool::new(false));
    let upstream = (Arc::clone(shared), Arc::clone(&cut));
    let (mut client_out, mut server_in) = (client, server);
    thread::spawn(move || {
        let (shared, cut) = upstream;
        let mut reader = client_reader;
        let mut buffer = vec![0; 64 * 1024];
        while let Ok(n @ 1..) = reader.read(&mut buffer) {
            let chunk = &buffer[..n];
            match shared.trips(chunk) {
                None => {
                    if server_in.write_all(chunk).is_err() {
                        break;
                    }
                }
                Some(how) => {
                    cut.store(true, Ordering::SeqCst);
                    if how == Cut::AfterForwarding {
                        let _ = server_in.write_all(chunk);
                    }
                    let _ = reader.shutdown(Shutdown::Both);
                    break;
                }
            }
        }
        // The server reads what was forwarded before it sees the end of the stream.
        let _ = server_in.shutdown(Shutdown::Write);
    });
    thread::spawn(move || {
        let mut reader = server_reader;
        let mut buffer = vec![0; 64 * 1024];
        while let Ok(n @ 1..) = reader.read(&mut buffer) {
            if cut.load(Ordering::SeqCst) || client_out.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = client_out.shutdown(Shutdown::Both);
        let _ = reader.shutdown(Shutdown::Both);
    });
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so that it sees `stopped`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        let streams = self
            .shared
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for stream in streams.iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}
