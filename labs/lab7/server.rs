//! Lab 7 reference solution: a thread per connection behind one global lock,
//! the way CPython runs threads under its GIL.
//!
//! The protocol is lab 1's upper-case echo plus two commands that stand for
//! the two kinds of work a Python program does. A chunk that is exactly
//! `cpu N` (a trailing `\n` or `\r\n` aside) computes for N milliseconds,
//! like pure-Python number crunching; `io N` sleeps N milliseconds, like a
//! call that waits on the outside world. Both answer `ok\n`.
//!
//! Threading is lab 5's: the main thread `accept`s, and every connection
//! gets a thread of its own with blocking `read`s and `write`s. The new
//! ingredient is one lock, the GIL, that guards everything the threads
//! share. A thread holds it while it "runs interpreter code": parsing a
//! chunk, computing, building the reply. It lets go before every call that
//! can block (`read`, `write`, `nanosleep`). So one thread's life is
//!
//! ```text
//! read (no lock) -> take the GIL -> parse / compute -> drop the GIL -> write (no lock) -> read ...
//! ```
//!
//! (`io N` lets go before its sleep and queues for the lock again after it,
//! as CPython does around every blocking call), and the lesson follows from
//! it: two `cpu 200` requests on two cores still take 400 ms, because only
//! the lock holder computes, while two `io 200` requests take 200 ms,
//! because a sleeping thread does not hold the lock.
//!
//! # The lock: a ticket lock on a futex
//!
//! Two counters, like the ticket roll and the "now serving" sign at a deli
//! counter. To take the lock a thread draws the next ticket
//! (`NEXT_TICKET += 1`) and waits until `NOW_SERVING` shows its number; to
//! give it back it bumps `NOW_SERVING`. Threads are served in the order they
//! drew tickets, so the lock is fair: nobody can cut in line.
//!
//! Waiting must not burn a core, so a waiter sleeps in the kernel with
//! `futex(&NOW_SERVING, FUTEX_WAIT_PRIVATE, s)`: "put me to sleep, but only
//! if the word still holds `s`". The kernel checks the word and queues the
//! thread atomically, so a release that lands just before the call makes it
//! return `EAGAIN` at once instead of sleeping through the wake-up. A
//! releaser that sees someone still holding a ticket calls
//! `futex(&NOW_SERVING, FUTEX_WAKE_PRIVATE, INT_MAX)`; every sleeper wakes,
//! the one whose turn it is goes on, the others go back to sleep. When
//! nobody else wants the lock, taking and releasing it are two atomic
//! additions in user space and no system call at all.
//!
//! # The switch interval
//!
//! A thread that computes for 500 ms would keep everybody else out for
//! 500 ms. CPython asks the running thread to let go every 5 ms
//! (`sys.getswitchinterval()`), and so does this server: every 5 ms of
//! holding, a computing thread checks whether anybody holds a ticket behind
//! it and, if so, releases and draws a new ticket, which puts it at the back
//! of the queue. The waiter runs, and a short request sent during a long
//! computation is answered within a few milliseconds. Only time spent
//! holding the lock counts towards N.
//!
//! # In the trace
//!
//! Each thread is its own section. Uncontended, a request is `read`, then
//! `write` (with a `clock_nanosleep` between them for `io N`) and nothing
//! else: the lock costs no system call.
//! Under contention the waiting thread shows
//! `futex(&NOW_SERVING, FUTEX_WAIT_PRIVATE, s, NULL)` blocked until the
//! holder's `futex(&NOW_SERVING, FUTEX_WAKE_PRIVATE, 2147483647)`, both on
//! the same address, the lock word. Two `cpu` requests at once alternate:
//! a wake by one thread, then its own wait on the same word, every 5 ms.

use std::convert::Infallible;
use std::hint::black_box;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, accept, bind, getsockname, listen,
    setsockopt, socket, sockopt,
};
use nix::unistd::{close, read, write};

/// How many bytes one `read` may return; a "chunk" is whatever one read got.
const BUF_SIZE: usize = 4096;
/// How long a computing thread holds the lock before it lets a waiter in
/// (CPython's default `sys.setswitchinterval(0.005)`).
const SWITCH_INTERVAL: Duration = Duration::from_millis(5);
/// The answer to `cpu N` and `io N`.
const OK: &[u8] = b"ok\n";

fn main() -> ExitCode {
    let Some(port) = parse_port(std::env::args().skip(1)) else {
        eprintln!("usage: lab7 [--port N]");
        return ExitCode::from(2);
    };
    match serve(port) {
        Ok(never) => match never {},
        Err(err) => {
            eprintln!("lab7: {err}");
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

/// Sets up the listening socket, then hands every client to a new thread.
/// Returns only on an unexpected error.
fn serve(port: u16) -> nix::Result<Infallible> {
    // SOLUTION BEGIN: lab 7: a thread per connection behind one global lock, let go around every blocking call and every 5 ms of computing
    // Blocking sockets throughout: each thread simply waits in its calls.
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
    println!("listening on 127.0.0.1:{}", local.port());

    loop {
        // The main thread only accepts; it never takes the GIL.
        let conn = accept_client(&listener)?;
        // One clone3 (plus the mmap/mprotect for the new thread's stack).
        // The thread owns the connection and closes it when it is done;
        // dropping the JoinHandle detaches it. If no thread can be made,
        // dropping the closure closes the connection: that client is refused.
        let _ = thread::Builder::new().spawn(move || {
            serve_client(&conn);
            // Linux frees the descriptor even when close reports an error.
            let _ = close(conn);
        });
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
            Err(Errno::EINTR | Errno::ECONNABORTED) => continue,
            Err(err) => return Err(err),
        }
    }
}

/// What a chunk asks for.
enum Request {
    /// `cpu N`: compute for N ms of lock-holding time.
    Cpu(u64),
    /// `io N`: sleep N ms without the lock.
    Io(u64),
    /// Anything else: echo it upper-cased.
    Echo,
}

/// Reads `chunk` as a request. Only the exact forms `cpu N` and `io N`
/// (decimal N, then nothing or `\n` or `\r\n`) are commands.
fn parse(chunk: &[u8]) -> Request {
    let line = match chunk.strip_suffix(b"\n") {
        Some(line) => line.strip_suffix(b"\r").unwrap_or(line),
        None => chunk,
    };
    if let Some(ms) = line.strip_prefix(b"cpu ").and_then(millis) {
        Request::Cpu(ms)
    } else if let Some(ms) = line.strip_prefix(b"io ").and_then(millis) {
        Request::Io(ms)
    } else {
        Request::Echo
    }
}

/// `digits` as a decimal number: digits only, at least one, no sign.
fn millis(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// One client's thread: read a chunk, handle it under the GIL, answer it.
/// Returns when the client closes the connection or an error (say
/// ECONNRESET or EPIPE) cuts it off.
fn serve_client(conn: &OwnedFd) {
    let mut buf = [0u8; BUF_SIZE];
    loop {
        // Blocking read WITHOUT the lock: a silent client parks only its
        // own thread, and everybody else keeps running.
        let n = match read(conn, &mut buf) {
            Ok(0) => return, // end of stream: the client closed
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        };
        // From here to `release` we "run interpreter code".
        let mut gil = Gil::acquire();
        let reply = match parse(&buf[..n]) {
            Request::Cpu(ms) => {
                gil = compute(gil, Duration::from_millis(ms));
                OK
            }
            Request::Io(ms) => {
                // Like a C extension's Py_BEGIN_ALLOW_THREADS: let go, then
                // block in one nanosleep (clock_nanosleep) that parks only
                // this thread.
                gil.release();
                thread::sleep(Duration::from_millis(ms));
                // Py_END_ALLOW_THREADS: back from the blocking call, queue
                // for the lock again before touching shared state.
                gil = Gil::acquire();
                OK
            }
            Request::Echo => {
                buf[..n].make_ascii_uppercase();
                &buf[..n]
            }
        };
        gil.release();
        // Blocking write WITHOUT the lock: a slow reader parks only its
        // own thread.
        if write_all(conn, reply).is_err() {
            return;
        }
    }
}

/// Spins for `total` of lock-holding time, giving the lock to waiters every
/// `SWITCH_INTERVAL`. Takes the held lock and hands it back, still held.
fn compute(mut gil: Gil, total: Duration) -> Gil {
    let mut counted = Duration::ZERO; // held time of finished intervals
    // `Instant::now` reads the clock through the vDSO: no system call.
    let mut interval_start = Instant::now();
    let mut x: u64 = 1;
    loop {
        // A slice of "interpreter work": arithmetic the optimizer may not drop.
        for _ in 0..1000 {
            x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
        let held = interval_start.elapsed();
        if counted + held >= total {
            return gil;
        }
        if held >= SWITCH_INTERVAL {
            counted += held;
            if gil.others_waiting() {
                // Release (waking the waiters), then queue up again behind them.
                gil.release();
                gil = Gil::acquire();
            }
            // Time spent waiting for the lock does not count.
            interval_start = Instant::now();
        }
    }
}

/// The next ticket to hand out.
static NEXT_TICKET: AtomicU32 = AtomicU32::new(0);
/// The ticket whose holder may run: the lock word waiters sleep on.
static NOW_SERVING: AtomicU32 = AtomicU32::new(0);

/// Holding the GIL. Made only by [`Gil::acquire`]; gives the lock back when
/// released or dropped.
struct Gil(());

impl Gil {
    /// Draws a ticket and waits until it is served.
    fn acquire() -> Gil {
        let my = NEXT_TICKET.fetch_add(1, SeqCst);
        loop {
            let serving = NOW_SERVING.load(SeqCst);
            if serving == my {
                return Gil(());
            }
            // Sleeps unless NOW_SERVING has moved on from `serving` already;
            // either way, look again.
            futex_wait(&NOW_SERVING, serving);
        }
    }

    /// Whether another thread holds a ticket (is waiting or about to).
    fn others_waiting(&self) -> bool {
        NEXT_TICKET
            .load(SeqCst)
            .wrapping_sub(NOW_SERVING.load(SeqCst))
            > 1
    }

    /// Gives the lock back (the same as dropping it; reads better).
    fn release(self) {}
}

impl Drop for Gil {
    fn drop(&mut self) {
        let serving = NOW_SERVING.fetch_add(1, SeqCst).wrapping_add(1);
        // Tickets drawn beyond the one now served: someone is waiting (or
        // about to). Only then is the kernel involved.
        if NEXT_TICKET.load(SeqCst) != serving {
            futex_wake_all(&NOW_SERVING);
        }
    }
}

/// futex(word, FUTEX_WAIT_PRIVATE, expected, NULL): sleeps until woken, but
/// only if `*word == expected` when the kernel looks (else EAGAIN at once).
/// The caller re-checks the word whatever happened (woken, EAGAIN, EINTR),
/// so the result carries no information.
fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: `word` points to a live, aligned 32-bit atomic for the whole
    // call, which is what FUTEX_WAIT reads; a NULL timeout means "no
    // timeout". The kernel writes no memory of ours.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

/// futex(word, FUTEX_WAKE_PRIVATE, INT_MAX): wakes every thread sleeping on
/// `word`. The number woken is of no use to us.
fn futex_wake_all(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key to find sleepers;
    // it reads and writes no memory.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        );
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
