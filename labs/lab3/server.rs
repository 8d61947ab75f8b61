//! Lab 3 reference solution: one thread that asks the kernel which sockets
//! are ready, with `select`, and sleeps until one is.
//!
//! This is the model answer students compare their own work with. It speaks
//! the lab protocol (every chunk a client sends comes back ASCII-upper-cased)
//! and, like lab 1, calls the socket API through `nix` so that each call below
//! is exactly one system call in the grader's trace. (`select` itself is made
//! by number, through `libc::syscall`: see [`select`] for why.)
//!
//! Lab 1 blocked in `read` on one client while the others waited. Lab 2 never
//! blocked but asked every socket again and again, burning the CPU while
//! nobody talked. Here the server hands the kernel two sets of descriptors,
//! "tell me when any of these can be read" and "tell me when any of these can
//! be written", and `select` puts the only thread to sleep until at least one
//! of them is ready. Then the server does exactly the work `select` reported:
//!
//! - the listening socket is readable: a client is waiting, `accept` it;
//! - a connection is readable: `read` once (0 bytes means the client closed),
//!   upper-case, and try to `write` the reply straight away;
//! - a connection is writable: send what an earlier `write` could not.
//!
//! Every socket is non-blocking (`fcntl` with `O_NONBLOCK`), so a `write` into
//! a full send buffer returns what fitted, or `EAGAIN`, instead of parking the
//! thread. The rest waits in the connection's buffer, and the connection moves
//! from the read set to the write set until the buffer is empty: while a
//! client does not read its replies, the server stops reading its requests
//! (back-pressure), so memory stays bounded whatever the client does.
//!
//! In the trace an idle server sits in `select(4, [3], [], NULL, NULL)`: fd 3
//! is the listener, 4 is "the highest fd in the sets, plus one", and the NULL
//! timeout means "sleep as long as it takes".

use std::cell::Cell;
use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::ptr;

use libc::c_int;
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::select::{FD_SETSIZE, FdSet};
use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, accept, bind, getsockname, listen,
    setsockopt, socket, sockopt,
};
use nix::unistd::{close, read, write};

/// How many bytes one `read` may return; a "chunk" is whatever one read got.
const BUF_SIZE: usize = 4096;

fn main() -> ExitCode {
    let Some(port) = parse_port(std::env::args().skip(1)) else {
        eprintln!("usage: lab3 [--port N]");
        return ExitCode::from(2);
    };
    match serve(port) {
        Ok(never) => match never {},
        Err(err) => {
            eprintln!("lab3: {err}");
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

/// One client connection and the reply it has not received yet.
struct Conn {
    fd: OwnedFd,
    /// Holds the last chunk read, upper-cased in place; `buf[sent..len]` is
    /// the part of the reply the client has not been sent yet.
    buf: Box<[u8; BUF_SIZE]>,
    sent: usize,
    len: usize,
    /// What the last `select` reported about this connection. (A `Cell`, so
    /// the sets can keep borrowing the descriptors while these are updated.)
    readable: Cell<bool>,
    writable: Cell<bool>,
}

impl Conn {
    fn new(fd: OwnedFd) -> Self {
        Conn {
            fd,
            buf: Box::new([0; BUF_SIZE]),
            sent: 0,
            len: 0,
            readable: Cell::new(false),
            writable: Cell::new(false),
        }
    }

    fn has_unsent_output(&self) -> bool {
        self.sent < self.len
    }
}

/// Sets up the listening socket, then serves every client from one loop.
/// Returns only on an unexpected error.
fn serve(port: u16) -> nix::Result<Infallible> {
    // SOLUTION BEGIN: lab 3: serve every client from one thread that waits only in select, with non-blocking sockets and a write set for unsent output
    // socket(AF_INET, SOCK_STREAM, 0): a blocking socket for now; it is made
    // non-blocking below, once it is listening.
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
    // A client may give up between `select` saying "someone is waiting" and
    // our `accept`. A blocking `accept` would then sleep until the next
    // client; a non-blocking one returns EAGAIN and the loop goes on.
    set_nonblocking(&listener)?;
    // With port 0 the kernel chose the port at `bind`; ask which one it was.
    let local: SockaddrIn = getsockname(listener.as_raw_fd())?;
    // Rust's stdout is line-buffered, so this is a single write(2) that goes
    // out immediately: the grader waits for this line before connecting.
    println!("listening on 127.0.0.1:{}", local.port());

    // The live connections, oldest first: the loop serves them in that order.
    let mut conns: Vec<Conn> = Vec::new();
    loop {
        // The only place the server sleeps.
        let listener_readable = wait_until_ready(&listener, &conns)?;
        // The listener first: accept one waiting client. If more are queued,
        // the listener is still readable and the next `select` says so.
        if listener_readable {
            // The new connection is not served in this round: `select` has
            // not reported on it yet. (`None`, nobody after all, adds nothing.)
            conns.extend(accept_client(&listener)?);
        }
        // Then each connection in accept order, doing only what `select`
        // reported it ready for.
        let mut i = 0;
        while i < conns.len() {
            if serve_ready(&mut conns[i])? {
                i += 1;
            } else {
                // Gone from `conns`, so gone from both sets from now on: a
                // closed descriptor must never be handed to `select`.
                let conn = conns.remove(i);
                // Linux frees the descriptor even when close reports an
                // error, so there is nothing useful to do with one.
                let _ = close(conn.fd);
            }
        }
    }
    // SOLUTION END
}

// SOLUTION HELPERS BEGIN
/// Turns on `O_NONBLOCK`: reads, writes and accepts on `fd` that cannot
/// complete at once fail with EAGAIN instead of waiting.
fn set_nonblocking(fd: &OwnedFd) -> nix::Result<()> {
    // fcntl(F_GETFL) then fcntl(F_SETFL): keep the flags already set.
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Builds the read and write sets, sleeps in `select` until something in
/// them is ready, and records in each connection what `select` reported.
/// Returns whether the listener is readable (a client is waiting).
fn wait_until_ready(listener: &OwnedFd, conns: &[Conn]) -> nix::Result<bool> {
    let mut read_set = FdSet::new();
    let mut write_set = FdSet::new();
    read_set.insert(listener.as_fd());
    // `select` wants the highest descriptor in the sets plus one: the kernel
    // looks at no bit above it.
    let mut nfds = listener.as_raw_fd() + 1;
    for conn in conns {
        if conn.has_unsent_output() {
            // Wake us when the send buffer has room for the rest. Not in the
            // read set meanwhile: that is the back-pressure.
            write_set.insert(conn.fd.as_fd());
        } else {
            // Wake us when the client sends something, or closes.
            read_set.insert(conn.fd.as_fd());
        }
        nfds = nfds.max(conn.fd.as_raw_fd() + 1);
    }
    match select(nfds, &mut read_set, &mut write_set) {
        Ok(_) => {}
        // A signal cut the sleep short; the sets say nothing, so clear them
        // and let the loop come straight back here.
        Err(Errno::EINTR) => {
            read_set.clear();
            write_set.clear();
        }
        Err(err) => return Err(err),
    }
    for conn in conns {
        conn.readable.set(read_set.contains(conn.fd.as_fd()));
        conn.writable.set(write_set.contains(conn.fd.as_fd()));
    }
    Ok(read_set.contains(listener.as_fd()))
}

// `select` below hands nix's `FdSet` to the kernel as a `libc::fd_set`, which
// is what it wraps (nix's own `select` does the same); make sure of the size.
const _: () = assert!(size_of::<FdSet>() == size_of::<libc::fd_set>());

/// select(nfds, &read, &write, NULL, NULL): sleeps until a descriptor in the
/// read set is readable or one in the write set is writable, then cuts each
/// set down to the descriptors that are ready and returns how many there are.
/// No exception set, and no timeout: sleep as long as it takes.
///
/// Why not `nix::sys::select::select`? It calls glibc's `select()`, which on
/// x86-64 is a wrapper that makes the `pselect6` system call instead. Calling
/// `select` by its number keeps "one call here, one syscall in the trace".
fn select(nfds: c_int, read_set: &mut FdSet, write_set: &mut FdSet) -> nix::Result<c_int> {
    // SAFETY: both set pointers come from live `&mut FdSet`s, which have the
    // layout of a `libc::fd_set`, and the kernel writes only within
    // `nfds` <= FD_SETSIZE bits of them. NULL is allowed for the exception
    // set and the timeout.
    let ready = unsafe {
        libc::syscall(
            libc::SYS_select,
            nfds,
            ptr::from_mut(read_set).cast::<libc::fd_set>(),
            ptr::from_mut(write_set).cast::<libc::fd_set>(),
            ptr::null_mut::<libc::fd_set>(),
            ptr::null_mut::<libc::timeval>(),
        )
    };
    // The count fits: it is at most nfds * 2.
    Errno::result(ready).map(|n| n as c_int)
}

/// Accepts one waiting client and makes its connection non-blocking.
/// `None` when there turned out to be nobody to accept after all.
fn accept_client(listener: &OwnedFd) -> nix::Result<Option<Conn>> {
    let fd = match accept(listener.as_raw_fd()) {
        // SAFETY: `accept` just created this descriptor and nothing else
        // owns it, so `OwnedFd` may take it over (and close it on drop).
        Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd) },
        // EAGAIN: the client gave up before we got to it (ECONNABORTED is the
        // same story told differently). EINTR: a signal interrupted us.
        Err(Errno::EAGAIN | Errno::ECONNABORTED | Errno::EINTR) => return Ok(None),
        Err(err) => return Err(err),
    };
    // An `fd_set` is a bitmap of FD_SETSIZE (1024) bits: `select` cannot watch
    // a higher descriptor at all. That limit is one reason `poll` and `epoll`
    // exist. Turn such a client away rather than never serving it.
    if fd.as_raw_fd() as usize >= FD_SETSIZE {
        let _ = close(fd);
        return Ok(None);
    }
    set_nonblocking(&fd)?;
    Ok(Some(Conn::new(fd)))
}

/// Does what the last `select` reported `conn` ready for. Returns `false`
/// when the connection is finished and must be closed.
fn serve_ready(conn: &mut Conn) -> nix::Result<bool> {
    // A connection sits in exactly one of the two sets, so at most one of
    // these holds.
    if conn.readable.get() {
        // One read per readiness: the other clients get their turn before
        // this one is read again.
        let n = match read(&conn.fd, &mut conn.buf[..]) {
            Ok(0) => return Ok(false), // end of stream: the client closed
            Ok(n) => n,
            // EAGAIN: `select` may report readiness that is gone by the time
            // we read. EINTR: a signal interrupted us. Wait for the next round.
            Err(Errno::EAGAIN | Errno::EINTR) => return Ok(true),
            // The client reset the connection: only this one is lost.
            Err(Errno::ECONNRESET) => return Ok(false),
            Err(err) => return Err(err),
        };
        conn.buf[..n].make_ascii_uppercase();
        conn.sent = 0;
        conn.len = n;
        // Usually the whole reply fits in the send buffer right away.
        return send_unsent(conn);
    }
    if conn.writable.get() {
        return send_unsent(conn);
    }
    Ok(true)
}

/// Makes one `write` of the unsent part of the reply and keeps whatever did
/// not fit for when `select` reports the connection writable. Returns `false`
/// when the connection is finished and must be closed.
fn send_unsent(conn: &mut Conn) -> nix::Result<bool> {
    match write(&conn.fd, &conn.buf[conn.sent..conn.len]) {
        // Possibly only part of it: the send buffer filled up.
        Ok(n) => conn.sent += n,
        // The send buffer is full (or a signal interrupted us): nothing sent,
        // everything kept. Never a wait, since the socket is non-blocking.
        Err(Errno::EAGAIN | Errno::EINTR) => {}
        // The client is gone. (Rust's runtime ignores SIGPIPE, so writing to
        // a closed connection fails with EPIPE instead of killing the server.)
        Err(Errno::EPIPE | Errno::ECONNRESET) => return Ok(false),
        Err(err) => return Err(err),
    }
    Ok(true)
}
// SOLUTION HELPERS END
