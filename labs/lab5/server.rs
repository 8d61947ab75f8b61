//! Lab 5 reference solution: one OS thread per connection, blocking I/O.
//!
//! Lab 1 served one client at a time because its only thread sat in `read`
//! on that client. Labs 2 to 4 kept one thread and taught it never to wait
//! on a single socket. This lab goes the other way: keep the plain blocking
//! calls of lab 1, but give every client a thread of its own. The main
//! thread does nothing but `accept`; each accepted connection is moved into
//! a new thread (one `clone3(CLONE_VM|CLONE_THREAD|...)` in the trace), and
//! that thread runs lab 1's loop, `read`, `write`, `read`, ... , `close`, and
//! exits. A thread parked in `read` on a silent client parks only itself:
//! the kernel's scheduler runs whichever threads have something to do.
//!
//! Blocking is fine here because waiting is what a thread is for. What it
//! costs:
//!
//! * Memory. Every thread has its own stack (Rust's default is 2 MiB of
//!   address space, of which only the pages touched become real memory), its
//!   own kernel stack and scheduler bookkeeping. Ten thousand idle clients
//!   are ten thousand threads.
//! * Context switches. Every chunk means waking a thread, and the kernel
//!   switching to it; with many busy clients, the switching itself shows.
//! * Shared memory. The threads are one process (`CLONE_VM`): they see the
//!   same heap and the same descriptor table. That is what lets the main
//!   thread hand a connection over by just moving the `OwnedFd` into the
//!   thread, but it also means nothing protects one thread from another.
//!   Here the threads share nothing on purpose: each owns its connection
//!   and its buffer, and Rust's ownership makes sure the main thread never
//!   touches the descriptor again.
//! * One fate. A signal like SIGSEGV kills the whole process (a thread group
//!   in the kernel's words), so a crash while serving one client drops every
//!   client at once. (A Rust panic only unwinds its own thread, but a real
//!   fault, an abort or a stack overflow takes them all down.) Lab 6 buys
//!   isolation back with processes.

use std::convert::Infallible;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::thread;

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
        eprintln!("usage: lab5 [--port N]");
        return ExitCode::from(2);
    };
    match serve(port) {
        Ok(never) => match never {},
        Err(err) => {
            eprintln!("lab5: {err}");
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

/// Sets up the listening socket, then accepts clients forever, handing each
/// to a thread of its own. Returns only on an unexpected error.
fn serve(port: u16) -> nix::Result<Infallible> {
    // SOLUTION BEGIN: lab 5: accept in the main thread and give every connection a thread of its own with blocking reads and writes
    // The same set-up as lab 1: blocking sockets, no SOCK_NONBLOCK anywhere.
    let listener = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )?;
    setsockopt(&listener, sockopt::ReuseAddr, &true)?;
    bind(listener.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, port))?;
    listen(&listener, Backlog::new(128)?)?;
    let local: SockaddrIn = getsockname(listener.as_raw_fd())?;
    // A single write(2): the grader waits for this line before connecting.
    println!("listening on 127.0.0.1:{}", local.port());

    loop {
        // Parks the main thread until a client connects. Connection threads
        // keep running meanwhile: only this thread waits here.
        let conn = accept_client(&listener)?;
        // One clone3 (after an mmap for the new thread's stack). The closure
        // takes the `OwnedFd` with it: from here on the descriptor belongs to
        // the new thread, and the compiler will not let this thread use it.
        //
        // `Builder::spawn` rather than `thread::spawn` (which is the same
        // call, but panics when it fails): when the kernel refuses another
        // thread (EAGAIN, too many threads or no memory for a stack), the
        // closure is dropped unrun, and dropping it drops the `OwnedFd`,
        // which closes that one connection. The server goes on.
        //
        // The returned `JoinHandle` is dropped at once, which detaches the
        // thread: nobody waits for it, it cleans up after itself when
        // `serve_client` returns.
        let _ = thread::Builder::new().spawn(move || serve_client(conn));
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

/// The whole life of a connection thread: serve the client until it closes,
/// close the connection, and return, which ends the thread.
fn serve_client(conn: OwnedFd) {
    match echo_upper(&conn) {
        // A client that resets the connection, or closes it while we are
        // still writing, only costs us this connection. (Rust's runtime
        // ignores SIGPIPE, so such a write fails with EPIPE instead of
        // killing the whole process, every other client's thread included.)
        Ok(()) | Err(Errno::ECONNRESET | Errno::EPIPE) => {}
        // Anything else is unexpected, but it still concerns this connection
        // only: say so and drop it.
        Err(err) => eprintln!("lab5: connection: {err}"),
    }
    // Linux frees the descriptor even when close reports an error, so there
    // is nothing useful to do with one.
    let _ = close(conn);
}

/// Serves one client until it closes: read a chunk, upper-case it, send it
/// back. Exactly lab 1's loop; what changed is who runs it.
fn echo_upper(conn: &OwnedFd) -> nix::Result<()> {
    // On this thread's own stack: every connection has its own buffer, so
    // the threads share nothing and need no locks.
    let mut buf = [0u8; BUF_SIZE];
    loop {
        // Parks this thread (and only this one) until the client sends bytes
        // or closes.
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

/// Writes all of `bytes`. A blocking `write` waits while the client's
/// receive window is full (a slow reader parks only its own thread), but it
/// may still send only part of a buffer, say when interrupted after some
/// bytes went out, so loop.
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
