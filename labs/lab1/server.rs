//! Lab 1 reference solution: a blocking, single-threaded upper-case echo server.
//!
//! This is the model answer students compare their own work with. It speaks
//! the lab protocol (every chunk a client sends comes back ASCII-upper-cased)
//! with the plainest I/O model there is: one thread, blocking sockets, one
//! client at a time. It calls the socket API through `nix` rather than
//! `std::net` so that each call below is exactly one system call in the
//! grader's trace: `socket`, `setsockopt`, `bind`, `listen`, `getsockname`,
//! then `accept`, `read`, `write` and `close` over and over.
//!
//! The price of this model shows in the trace: `accept` and `read` park the
//! only thread. While one client is connected but silent, the server sits in
//! `read` on that connection, so a second client's connection waits in the
//! kernel's listen backlog, unanswered, until the first client hangs up. That
//! is head-of-line blocking, and the later labs are about getting rid of it.

use std::convert::Infallible;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, accept, bind, getsockname, listen,
    setsockopt, socket, sockopt,
};
use nix::unistd::{close, read, write};

/// How many bytes one `read` may return; a "chunk" is whatever one read got.
const BUF_SIZE: usize = 4096;

fn main() -> ExitCode {
    let Some(port) = parse_port(std::env::args().skip(1)) else {
        eprintln!("usage: lab1 [--port N]");
        return ExitCode::from(2);
    };
    match serve(port) {
        Ok(never) => match never {},
        Err(err) => {
            eprintln!("lab1: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Parses `[--port N]`. `None` means the arguments are malformed.
fn parse_port(mut args: impl Iterator<Item = String>) -> Option<u16> {
    let mut port = 0; // 0 asks the kernel for any free port
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next()?.parse().ok()?,
            _ => return None,
        }
    }
    Some(port)
}

/// Sets up the listening socket, then serves clients one after another.
/// Returns only on an unexpected error.
fn serve(port: u16) -> nix::Result<Infallible> {
    // SOLUTION BEGIN: lab 1: listen on 127.0.0.1 with blocking sockets, then accept one client at a time and echo each chunk upper-cased until it closes
    // socket(AF_INET, SOCK_STREAM, 0). No SOCK_NONBLOCK: every call on this
    // socket, and on the connections it accepts, waits until it can complete.
    let listener = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )?;
    // Lets a restarted server bind its port at once, even while connections
    // from its previous run linger in TIME_WAIT.
    setsockopt(&listener, sockopt::ReuseAddr, &true)?;
    bind(listener.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, port))?;
    // From here on the kernel completes handshakes by itself and queues up to
    // 128 established connections until we `accept` them.
    listen(&listener, Backlog::new(128)?)?;
    // With port 0 the kernel chose the port at `bind`; ask which one it was.
    let local: SockaddrIn = getsockname(listener.as_raw_fd())?;
    // Rust's stdout is line-buffered, so this is a single write(2) that goes
    // out immediately: the grader waits for this line before connecting.
    println!("listening on 127.0.0.1:{}", local.port());

    loop {
        // Parks the only thread until a client connects.
        let conn = accept_client(&listener)?;
        match echo_upper(&conn) {
            // A client that resets the connection, or closes it while we are
            // still writing, only costs us that connection. (Rust's runtime
            // ignores SIGPIPE, so such a write fails with EPIPE instead of
            // killing the whole server.)
            Ok(()) | Err(Errno::ECONNRESET | Errno::EPIPE) => {}
            Err(err) => return Err(err),
        }
        // Linux frees the descriptor even when close reports an error, so
        // there is nothing useful to do with one.
        let _ = close(conn);
    }
    // SOLUTION END
}

// SOLUTION HELPERS BEGIN
/// Waits in `accept` for the next client.
fn accept_client(listener: &OwnedFd) -> nix::Result<OwnedFd> {
    loop {
        match accept(listener.as_raw_fd()) {
            // SAFETY: `accept` just created this descriptor and nothing else
            // owns it, so `OwnedFd` may take it over (and close it on drop).
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
            // EINTR: a signal cut the wait short. ECONNABORTED: a client gave
            // up while queued. Neither is our problem: wait for the next one.
            Err(Errno::EINTR | Errno::ECONNABORTED) => continue,
            Err(err) => return Err(err),
        }
    }
}

/// Serves one client until it closes: read a chunk, upper-case it, send it back.
fn echo_upper(conn: &OwnedFd) -> nix::Result<()> {
    let mut buf = [0u8; BUF_SIZE];
    loop {
        // Parks the only thread until this client sends bytes or closes.
        // Any other client has to wait, however long this one stays silent.
        let n = match read(conn, &mut buf) {
            Ok(0) => return Ok(()), // end of stream: the client closed
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err),
        };
        let chunk = &mut buf[..n];
        chunk.make_ascii_uppercase();
        write_all(conn, chunk)?;
    }
}

/// Writes all of `bytes`. A blocking `write` may still send only part of a
/// buffer (say, when interrupted after some bytes went out), so loop.
fn write_all(conn: &OwnedFd, mut bytes: &[u8]) -> nix::Result<()> {
    while !bytes.is_empty() {
        match write(conn, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
// SOLUTION HELPERS END
