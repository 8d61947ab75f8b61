//! Known-wrong lab 1 solution: treats `read() == 0` as data.
//!
//! Identical to the reference solution except for one common C mistake: the
//! serving loop only stops on an error, so when the client closes, `read`
//! returns 0 (end of stream) and the loop upper-cases and "echoes" those 0
//! bytes and reads again, forever. The trace shows `read(C1, "", 4096) = 0`
//! over and over: the server spins on a closed client and never accepts the
//! next one. The lab-1 grader must reject it on head-of-line blocking (B is
//! never answered after A leaves), quoting the repeated `= 0` read.

use std::convert::Infallible;
use std::os::fd::OwnedFd;
use std::process::ExitCode;

use nix::errno::Errno;
use nix::unistd::{close, read};

#[path = "../../../fixtures/shared.rs"]
mod shared;
use shared::{accept_client, listen_loopback, write_all};

/// How many bytes one `read` may return; a "chunk" is whatever one read got.
const BUF_SIZE: usize = 4096;

fn main() -> ExitCode {
    shared::main_with("lab1-eof-as-data", serve)
}

/// Sets up the listening socket, then serves clients one after another.
/// Returns only on an unexpected error.
fn serve(port: u16) -> nix::Result<Infallible> {
    let listener = listen_loopback(port)?;
    loop {
        let conn = accept_client(&listener)?;
        match echo_upper(&conn) {
            Ok(()) | Err(Errno::ECONNRESET | Errno::EPIPE) => {}
            Err(err) => return Err(err),
        }
        let _ = close(conn);
    }
}

/// Serves one client: read a chunk, upper-case it, send it back.
fn echo_upper(conn: &OwnedFd) -> nix::Result<()> {
    let mut buf = [0u8; BUF_SIZE];
    loop {
        // THE DELIBERATE MISTAKE: a return of 0 (the client closed) is taken
        // for an empty chunk, so the loop reads the closed connection again
        // and again instead of leaving it.
        let n = match read(conn, &mut buf) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err),
        };
        let chunk = &mut buf[..n];
        chunk.make_ascii_uppercase();
        write_all(conn, chunk)?;
    }
}
