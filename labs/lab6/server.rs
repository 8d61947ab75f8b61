//! Lab 6 reference solution: a prefork server, one master and N worker processes.
//!
//! This is the model answer students compare their own work with. It speaks
//! lab 1's protocol (every chunk comes back ASCII-upper-cased) plus one rule:
//! a chunk with a line `crash` kills the process serving it with SIGABRT
//! before anything is answered. The I/O model is the one of Apache's
//! `prefork` and of PostgreSQL's postmaster: processes instead of threads.
//!
//! The master opens the listening socket (`socket`, `setsockopt`, `bind`,
//! `listen`, `getsockname`), prints the `listening on` line and then `fork`s
//! the workers. A child of `fork` inherits copies of its parent's open
//! descriptors, so every worker holds the same listening socket and simply
//! blocks in `accept` on it; the kernel hands each new connection to one of
//! them. Each worker is lab 1 all over again: `accept`, then `read`/`write`
//! until the client hangs up, `close`, and `accept` again. The master never
//! touches a client. It sits in `wait4` and looks after the workers.
//!
//! What processes buy is isolation. A worker that crashes (here: `abort()`
//! on a `crash` line) takes down its own memory and its one connection, and
//! nothing else: the other workers keep serving, and the master, woken in
//! `wait4` by the death of its child, forks a replacement.
//!
//! Three things every process-based server has to get right, and this one
//! shows in its transcript:
//!
//! * **Reaping.** A dead child is not gone: the kernel keeps its exit status
//!   (a "zombie", `<defunct>` in `ps`) until its parent collects it with a
//!   `wait` call. A master that never waits fills the process table with
//!   zombies, and it never learns that a worker died, so it cannot replace
//!   it. Here the master is parked in `wait4(-1, .., 0)` all the time, so
//!   every death is noticed at once.
//! * **Signals across `fork`.** The master turns SIGTERM into a flag (a
//!   handler installed with `sigaction`, without `SA_RESTART`, so that the
//!   blocked `wait4` returns `EINTR` and the master can act on the flag). A
//!   child inherits its parent's signal handlers, so each worker first
//!   restores SIGTERM to its default action: otherwise the master's
//!   `kill(worker, SIGTERM)` would only set the worker's own copy of the
//!   flag, and the worker would not stop. (A SIGTERM can still reach a
//!   newborn worker before it has reset the action; so the worker looks at
//!   its copy of the flag once, right after the reset.)
//! * **Shutting down.** On SIGTERM the master stops the workers (`kill`, in
//!   birth order), waits for each (`wait4` with its pid), and only then
//!   exits. A master that just dies leaves its workers behind as orphans:
//!   they keep the port open and keep serving, with nobody to stop them.
//!
//! A note on the "thundering herd": all N workers sleep in `accept` on one
//! socket. Old Unix kernels woke every one of them for each new connection;
//! one won the race and the others went back to sleep for nothing. Linux
//! queues blocked `accept` callers as exclusive waiters and wakes exactly
//! one per connection, so the transcript shows one worker returning from
//! `accept` and the others still blocked. (`epoll` on a shared listening
//! socket is another story: see `EPOLLEXCLUSIVE`.)

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, kill, sigaction};
use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, accept, bind, getsockname, listen,
    setsockopt, socket, sockopt,
};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, close, fork, read, write};

/// How many bytes one `read` may return; a "chunk" is whatever one read got.
const BUF_SIZE: usize = 4096;
/// Workers when `--workers` is not given.
const DEFAULT_WORKERS: usize = 4;

/// Set by the master's SIGTERM handler; read by the master's loop.
static TERMINATING: AtomicBool = AtomicBool::new(false);

/// The master's SIGTERM handler. A handler may interrupt the program
/// anywhere, even halfway through a `malloc`, so it may only do
/// async-signal-safe things: storing to an atomic is one.
extern "C" fn on_sigterm(_signo: libc::c_int) {
    TERMINATING.store(true, Ordering::SeqCst);
}

fn main() -> ExitCode {
    let Some((port, workers)) = parse_args(std::env::args().skip(1)) else {
        eprintln!("usage: lab6 [--port N] [--workers N]");
        return ExitCode::from(2);
    };
    match serve(port, workers) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("lab6: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Parses `[--port N] [--workers N]` (at least one worker). `None` means the
/// arguments are malformed.
fn parse_args(mut args: impl Iterator<Item = String>) -> Option<(u16, usize)> {
    let mut port = 0; // 0 asks the kernel for any free port
    let mut workers = DEFAULT_WORKERS;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next()?.parse().ok()?,
            "--workers" => workers = args.next()?.parse().ok().filter(|&n| n > 0)?,
            _ => return None,
        }
    }
    Some((port, workers))
}

/// The master: listens, starts the workers, then looks after them until
/// SIGTERM. Returns once every worker has been stopped and reaped.
fn serve(port: u16, workers: usize) -> nix::Result<()> {
    // SOLUTION BEGIN: lab 6: listen, then fork worker processes that accept on the shared socket; reap and replace a crashed worker, stop them all on SIGTERM
    let listener = listen_socket(port)?;

    // SIGTERM sets a flag. No SA_RESTART: a signal that arrives while the
    // master is blocked in `wait4` makes that call fail with EINTR instead of
    // being silently restarted by the kernel, so the master sees the flag.
    let on_term = SigAction::new(
        SigHandler::Handler(on_sigterm),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: `on_sigterm` only stores to an atomic, which is safe at any
    // point the signal may interrupt the master.
    unsafe { sigaction(Signal::SIGTERM, &on_term) }?;

    // The workers' pids, in birth order; a replacement takes the slot of the
    // worker it replaces. `None`: reaped, and not replaced (shutting down).
    let mut pids: Vec<Option<Pid>> = Vec::with_capacity(workers);
    let result = supervise(&listener, workers, &mut pids);
    // Whether SIGTERM or an error ended the master, no worker outlives it.
    stop_workers(&pids);
    let _ = close(listener);
    result
    // SOLUTION END
}

// SOLUTION HELPERS BEGIN
/// socket, SO_REUSEADDR, bind, listen, getsockname, and the `listening on` line.
fn listen_socket(port: u16) -> nix::Result<OwnedFd> {
    // Blocking, as in lab 1: every worker simply sleeps in `accept`.
    let listener = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )?;
    setsockopt(&listener, sockopt::ReuseAddr, &true)?;
    bind(listener.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, port))?;
    // Listen BEFORE forking: from here on the kernel queues connections, and
    // every worker forked later inherits a socket that is ready to accept.
    listen(&listener, Backlog::new(128)?)?;
    let local: SockaddrIn = getsockname(listener.as_raw_fd())?;
    // `println!` is one write(2) that goes out at once (stdout is
    // line-buffered). It matters that nothing is left in the buffer: `fork`
    // copies memory, so unflushed output would be printed by every child.
    println!("listening on 127.0.0.1:{}", local.port());
    Ok(listener)
}

/// Forks the workers, then waits for deaths and replaces the dead, until
/// SIGTERM. Errors (a failed `fork`, say) end the master too.
fn supervise(listener: &OwnedFd, workers: usize, pids: &mut Vec<Option<Pid>>) -> nix::Result<()> {
    for _ in 0..workers {
        pids.push(Some(spawn_worker(listener)?));
    }
    loop {
        // (A SIGTERM landing between this check and `wait4` is only noticed
        // when the next worker dies; closing that gap takes `signalfd` or a
        // self-pipe, and is not this lab's lesson.)
        if TERMINATING.load(Ordering::SeqCst) {
            return Ok(());
        }
        // wait4(-1, .., 0, NULL): parks the master until any child dies.
        // This is what reaps the dead: without it they stay zombies.
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _)) => {
                let Some(slot) = pids.iter_mut().find(|slot| **slot == Some(pid)) else {
                    continue;
                };
                *slot = None;
                // A worker died (a crash, or a failed call): fork another in
                // its place, unless we are shutting down anyway.
                if !TERMINATING.load(Ordering::SeqCst) {
                    *slot = Some(spawn_worker(listener)?);
                }
            }
            // Stopped / continued children are only reported on request.
            Ok(_) => {}
            // SIGTERM: the check at the top of the loop sees the flag.
            Err(Errno::EINTR) => {}
            Err(err) => return Err(err),
        }
    }
}

/// Forks one worker and returns its pid. The child never returns from here.
fn spawn_worker(listener: &OwnedFd) -> nix::Result<Pid> {
    // SAFETY: the master is single-threaded, so the child's copy of memory is
    // consistent (no lock is held by a thread that does not exist in the
    // child), and the child ends in `_exit` without returning.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            let code = match work(listener) {
                Ok(()) => 0,
                Err(err) => {
                    eprintln!("lab6 worker: {err}");
                    1
                }
            };
            // SAFETY: `_exit` ends the worker at once. It must never return
            // into the master's code (its loop, its copy of the pids), and it
            // runs no exit handlers the master registered.
            unsafe { libc::_exit(code) }
        }
    }
}

/// A worker: accepts on the inherited socket and serves each connection to
/// its end, like lab 1. Returns `Ok` only if told to stop before it started
/// serving, and otherwise only on an unexpected error.
fn work(listener: &OwnedFd) -> nix::Result<()> {
    // Signal handlers survive `fork`. Restore SIGTERM's default action (die),
    // so that the master's `kill(worker, SIGTERM)` really stops this worker.
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: restoring the default action installs no code of ours.
    unsafe { sigaction(Signal::SIGTERM, &default) }?;
    // A SIGTERM that came between `fork` and the line above ran the inherited
    // handler, which only set this process's copy of the flag (or the master
    // had it set already when it forked). Honour it now: otherwise this
    // worker would serve on while the master waits for it forever.
    if TERMINATING.load(Ordering::SeqCst) {
        return Ok(());
    }

    let mut buf = [0u8; BUF_SIZE];
    loop {
        // All workers sleep here, on the same socket; the kernel wakes one
        // of them per new connection.
        let conn = accept_client(listener)?;
        match echo_upper(&conn, &mut buf) {
            // A client that resets the connection, or closes it while we are
            // still writing, only costs us that connection.
            Ok(()) | Err(Errno::ECONNRESET | Errno::EPIPE) => {}
            Err(err) => return Err(err),
        }
        // Linux frees the descriptor even when close reports an error.
        let _ = close(conn);
    }
}

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

/// Serves one client until it closes: read a chunk, upper-case it, send it
/// back; a `crash` line kills this worker first.
fn echo_upper(conn: &OwnedFd, buf: &mut [u8; BUF_SIZE]) -> nix::Result<()> {
    loop {
        let n = match read(conn, buf) {
            Ok(0) => return Ok(()), // end of stream: the client closed
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err),
        };
        let chunk = &mut buf[..n];
        if has_crash_line(chunk) {
            // The lab's stand-in for a bug: die by SIGABRT, answering nothing.
            // Only this process goes; the master sees it in `wait4`.
            std::process::abort();
        }
        chunk.make_ascii_uppercase();
        write_all(conn, chunk)?;
    }
}

/// Does some line of `chunk` (split on '\n', one trailing '\r' ignored) read
/// exactly `crash`?
fn has_crash_line(chunk: &[u8]) -> bool {
    chunk
        .split(|&b| b == b'\n')
        .any(|line| line.strip_suffix(b"\r").unwrap_or(line) == b"crash")
}

/// Writes all of `bytes`, looping over partial writes.
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

/// Stops the workers: SIGTERM to each in birth order, then waits for each in
/// the same order, so that none is left as an orphan or a zombie.
fn stop_workers(pids: &[Option<Pid>]) {
    // Errors are not interesting here: a worker that already died (but is
    // not reaped yet) still takes the signal; nothing else can fail.
    for pid in pids.iter().flatten() {
        let _ = kill(*pid, Signal::SIGTERM);
    }
    for pid in pids.iter().flatten() {
        // wait4(pid, .., 0, NULL), again if a second SIGTERM interrupts it.
        while waitpid(*pid, None) == Err(Errno::EINTR) {}
    }
}
// SOLUTION HELPERS END
