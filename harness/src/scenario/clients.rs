//! The client drivers: each step's actions on the clients' connections.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::outcome::Limits;
use super::server::Server;
use super::sockets::{acked, arrived, delivered, drain, server_unacked, unsent};
use super::steps::{Observed, Reply, Request, Settled, Step, Usage, burst_data, upper};
use crate::procfs::cpu_time;
use crate::syscalls::Class;
use crate::trace::{Arg, EventKind, Ret, Tid, Trace};

/// A client connection driven by the scenario.
pub(super) struct Client {
    name: &'static str,
    stream: Option<TcpStream>,
    /// A request still being written by a [`Step::Stall`]'s writer.
    stalled: Option<Writer>,
}

/// A request written from a thread of its own while the client reads (or
/// does not), and what it should come back as.
pub(super) struct Writer {
    handle: std::thread::JoinHandle<()>,
    done: Arc<std::sync::atomic::AtomicBool>,
    expected: Vec<u8>,
}

impl Writer {
    /// Starts writing `data` on `writer`.
    fn spawn(mut writer: TcpStream, data: Vec<u8>) -> Writer {
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer_done = Arc::clone(&done);
        let expected = upper(&data);
        let handle = std::thread::spawn(move || {
            let _ = writer.write_all(&data);
            writer_done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        Writer {
            handle,
            done,
            expected,
        }
    }

    fn done(&self) -> bool {
        self.done.load(std::sync::atomic::Ordering::SeqCst)
    }
}

pub(super) fn escape(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(24)];
    let mut s = String::from_utf8_lossy(shown).escape_debug().to_string();
    if bytes.len() > shown.len() {
        s.push_str("...");
    }
    format!("\"{s}\"")
}

/// Connects with a small segment size and receive buffer, set before the
/// handshake so that they shape the connection.
pub(super) fn connect_narrow(addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    use nix::sys::socket::{
        AddressFamily, SockFlag, SockType, SockaddrStorage, connect, setsockopt, socket, sockopt,
    };
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    setsockopt(&fd, sockopt::RcvBuf, &(64 * 1024))?;
    setsockopt(&fd, sockopt::TcpMaxSeg, &1400)?;
    // A blocking connect gives up after SO_SNDTIMEO, like connect_timeout;
    // the timeout is cleared again for the writes that follow.
    let timeval =
        |d: Duration| nix::sys::time::TimeVal::new(d.as_secs() as _, d.subsec_micros() as _);
    setsockopt(&fd, sockopt::SendTimeout, &timeval(timeout))?;
    connect(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrStorage::from(addr),
    )?;
    setsockopt(&fd, sockopt::SendTimeout, &timeval(Duration::ZERO))?;
    Ok(TcpStream::from(fd))
}

pub(super) fn client<'a>(clients: &'a mut [Client], name: &str) -> Option<&'a mut TcpStream> {
    clients
        .iter_mut()
        .find(|c| c.name == name)
        .and_then(|c| c.stream.as_mut())
}

pub(super) fn perform(
    server: &mut Server,
    clients: &mut Vec<Client>,
    step: &Step,
    limits: &Limits,
) -> Observed {
    match step {
        Step::Settle(_) => Observed::Settled(server.settle()),
        Step::Connect(name) | Step::ConnectNarrow(name) => {
            let narrow = matches!(step, Step::ConnectNarrow(_));
            server.step(format!(
                "{name}: connect{}",
                if narrow { " (narrow window)" } else { "" }
            ));
            let (addr, reply) = (server.addr, limits.reply);
            let connect = move || {
                if narrow {
                    connect_narrow(addr, reply)
                } else {
                    TcpStream::connect_timeout(&addr, reply)
                }
            };
            // A sandboxed server listens in a network namespace of its own.
            let connected = match &server.tracer.net {
                Some(ns) => crate::sys::sandbox::in_namespace(ns, connect),
                None => connect(),
            };
            match connected {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    clients.push(Client {
                        name,
                        stream: Some(s),
                        stalled: None,
                    });
                    Observed::Done
                }
                Err(e) => Observed::Failed(format!("{name} could not connect: {e}")),
            }
        }
        Step::Send(name, data) => {
            server.step(format!("{name}: send {}", escape(data)));
            match client(clients, name) {
                Some(s) => match s.write_all(data) {
                    Ok(()) => {
                        delivered(server, s, limits);
                        Observed::Done
                    }
                    Err(e) => Observed::Failed(format!("{name} could not send: {e}")),
                },
                None => Observed::Failed(format!("{name} is not connected")),
            }
        }
        Step::Close(name) => {
            server.step(format!("{name}: close"));
            match clients.iter_mut().find(|c| c.name == *name) {
                Some(c) => {
                    // The FIN first, and closed once it arrived, so that the
                    // next settle sees the server's answer to it.
                    if let Some(s) = &c.stream
                        && s.shutdown(std::net::Shutdown::Write).is_ok()
                    {
                        delivered(server, s, limits);
                    }
                    c.stream = None;
                    Observed::Done
                }
                None => Observed::Failed(format!("{name} is not connected")),
            }
        }
        Step::Expect(_, name, expected) => {
            let got = match client(clients, name) {
                Some(s) => collect(server, s, expected.len()),
                None => Vec::new(),
            };
            Observed::Received {
                got,
                expected: expected.clone(),
            }
        }
        Step::ExpectNothing(_, name) => {
            let got = match client(clients, name) {
                Some(s) => collect(server, s, usize::MAX),
                None => Vec::new(),
            };
            Observed::Received {
                got,
                expected: Vec::new(),
            }
        }
        Step::Measure(_, wall) => {
            server.settle();
            let records = server.trace.records.len();
            let cpu = server.cpu_time();
            let start = Instant::now();
            while start.elapsed() < *wall {
                server.pump(Duration::from_millis(5));
            }
            Observed::Measured(Usage {
                wall: start.elapsed(),
                cpu: server.cpu_time().saturating_sub(cpu),
                records: records..server.trace.records.len(),
            })
        }
        Step::Requests(_, requests) => timed_requests(server, clients, requests, limits),
        Step::Terminate(_) => {
            server.step("SIGTERM to main".to_string());
            // Only while it lives: a reaped pid may already be someone else's.
            if server.ended.is_none() {
                let main = nix::unistd::Pid::from_raw(server.main);
                let _ = nix::sys::signal::kill(main, Signal::SIGTERM);
            }
            let deadline = Instant::now() + limits.term_grace * 2;
            while server.ended.is_none() && !server.live.is_empty() && Instant::now() < deadline {
                server.pump(Duration::from_millis(10));
            }
            let ended = server.ended;
            if ended.is_some() && !server.live.is_empty() {
                server.settle();
            }
            let mut left: Vec<Tid> = server
                .live
                .iter()
                .map(|t| server.pids.get(t).copied().unwrap_or(*t))
                .collect();
            left.sort_unstable();
            left.dedup();
            Observed::Terminated { ended, left }
        }
        Step::Stall(_, name, size) => {
            server.step(format!("{name}: send {size} bytes and read nothing"));
            let Some(c) = clients
                .iter_mut()
                .find(|c| c.name == *name && c.stream.is_some())
            else {
                return Observed::Failed(format!("{name} is not connected"));
            };
            let stream = c.stream.as_ref().expect("found connected");
            let writer = match stream.try_clone() {
                Ok(w) => Writer::spawn(w, burst_data(*size)),
                Err(e) => return Observed::Failed(format!("{name}: {e}")),
            };
            // Settled, with the request all taken or the rest of it
            // waiting at the client: the server stopped taking it in (its
            // replies wait for room), not merely between two reads.
            let mut stalls = 0;
            let settled = loop {
                let before = (unsent(stream), acked(stream));
                let settled = server.settle();
                let stopped = writer.done() || unsent(stream) > 0;
                if matches!(settled, Settled::Gone) || server.overdue() {
                    break settled;
                }
                if matches!(settled, Settled::Blocked(_)) && stopped {
                    break settled;
                }
                if (unsent(stream), acked(stream)) == before {
                    stalls += 1;
                    if stalls >= 3 {
                        break settled;
                    }
                } else {
                    stalls = 0;
                }
            };
            c.stalled = Some(writer);
            Observed::Settled(settled)
        }
        Step::Unstall(_, name) => {
            server.step(format!("{name}: read the whole reply"));
            let Some(c) = clients.iter_mut().find(|c| c.name == *name) else {
                return Observed::Failed(format!("{name} is not connected"));
            };
            let (Some(stream), Some(writer)) = (c.stream.as_mut(), c.stalled.take()) else {
                return Observed::Failed(format!("{name} sent nothing it did not read"));
            };
            let got = read_reply(server, stream, &writer, limits);
            if !writer.done() {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
            let _ = writer.handle.join();
            while server.pump(Duration::ZERO) {}
            Observed::Received {
                got,
                expected: writer.expected,
            }
        }
        Step::Burst(_, name, size) | Step::SlowBurst(_, name, size) => {
            let slow = matches!(step, Step::SlowBurst(..));
            let data = burst_data(*size);
            server.step(if slow {
                format!("{name}: send {size} bytes, reading the reply only when the server settles")
            } else {
                format!("{name}: send {size} bytes while reading the reply")
            });
            let Some(stream) = client(clients, name) else {
                return Observed::Failed(format!("{name} is not connected"));
            };
            let got = match stream.try_clone() {
                Ok(writer) if slow => slow_burst(server, stream, writer, data.clone(), limits),
                Ok(writer) => burst(server, stream, writer, data.clone(), limits),
                Err(e) => return Observed::Failed(format!("{name}: {e}")),
            };
            // Let the server take in what it did while the bytes flowed.
            while server.pump(Duration::ZERO) {}
            Observed::Received {
                got,
                expected: upper(&data),
            }
        }
    }
}

/// Sends each request once the server has read the one before (a read
/// that returned data after that request was sent), then waits for every
/// reply, polling the clients every millisecond so that the delays are
/// measured, not guessed. Gives up at the reply timeout, or as soon as the
/// server is stuck (every task asleep in a call no timer ends) or a client
/// was disconnected.
/// How many times a [`Step::Requests`] is tried, at most, for its requests
/// to be in flight together.
pub const ATTEMPTS: u32 = 5;

/// Sends the requests and times their replies, again (up to [`ATTEMPTS`]
/// times) while the trace shows they were not in flight together: a loaded
/// machine can deliver the next request only after the first was done,
/// and a step that did not do what it is for says nothing about the
/// server.
pub(super) fn timed_requests(
    server: &mut Server,
    clients: &mut [Client],
    requests: &[Request],
    limits: &Limits,
) -> Observed {
    let mut attempt = 1;
    loop {
        let observed = timed_once(server, clients, requests, limits);
        let retry = attempt < ATTEMPTS
            && matches!(&observed, Observed::Timed { replies, events, .. }
                if replies.iter().all(|r| r.after.is_some())
                    && !in_flight_together(&server.trace, events.start, requests));
        if !retry {
            return observed;
        }
        attempt += 1;
        server.step_now(format!(
            "the requests were not in flight together: again (attempt {attempt} of {ATTEMPTS})"
        ));
    }
}

/// Whether every request after the first was read while the first was
/// still being worked on: before its reply was written, and before the
/// end of any sleep its task made meanwhile. Unknown (no read or reply
/// found) counts as together: the checks judge what did not happen.
pub(super) fn in_flight_together(trace: &Trace, from: usize, requests: &[Request]) -> bool {
    let mut at = from;
    let reads: Vec<Option<(Tid, usize)>> = requests
        .iter()
        .map(|r| first_read(trace, &mut at, &r.data))
        .collect();
    let Some(Some((tid, read))) = reads.first().copied() else {
        return true;
    };
    // The first request's work ends at its task's first write after the
    // read, or at the end of a sleep before that.
    let mut end = None;
    for (i, e) in trace.events.iter().enumerate().skip(read + 1) {
        if e.tid != tid {
            continue;
        }
        let Some(rec) = trace.record_of_event(i).map(|r| &trace.records[r]) else {
            continue;
        };
        match e.kind {
            EventKind::Exit(_) if rec.is_a(&[Class::Sleep]) => {
                end = Some(i);
                break;
            }
            EventKind::Enter(_) if rec.is_a(&[Class::Write]) => {
                end = Some(i);
                break;
            }
            _ => {}
        }
    }
    let Some(end) = end else {
        return true;
    };
    reads[1..].iter().all(|r| r.is_none_or(|(_, at)| at < end))
}

/// The first read of `data` at or after event `*at`, and the event index of
/// its return; moves `*at` past it.
fn first_read(trace: &Trace, at: &mut usize, data: &[u8]) -> Option<(Tid, usize)> {
    let mut probe = *at;
    let found = read_since(trace, &mut probe, data)?;
    *at = found.1 + 1;
    Some(found)
}

/// One try of a [`Step::Requests`].
fn timed_once(
    server: &mut Server,
    clients: &mut [Client],
    requests: &[Request],
    limits: &Limits,
) -> Observed {
    let mut sent: Vec<Instant> = Vec::with_capacity(requests.len());
    let mut failed = None;
    let mut first_event = None;
    for (i, req) in requests.iter().enumerate() {
        let text = format!("{}: send {}", req.client, escape(&req.data));
        if i == 0 {
            server.step(text);
            first_event = Some(server.trace.events.len() - 1);
        } else {
            server.step_now(text);
        }
        let mark = server.trace.events.len();
        match client(clients, req.client) {
            Some(s) => {
                if let Err(e) = s.write_all(&req.data) {
                    failed = Some(format!("{} could not send: {e}", req.client));
                    break;
                }
            }
            None => {
                failed = Some(format!("{} is not connected", req.client));
                break;
            }
        }
        sent.push(Instant::now());
        // The client acted: quiet is counted from here.
        server.last_event = Instant::now();
        if i + 1 < requests.len() {
            let deadline = Instant::now() + limits.reply;
            let mut from = mark;
            let mut reader = None;
            while reader.is_none()
                && Instant::now() < deadline
                && !server.stuck()
                && !server.overdue()
            {
                reader = read_since(&server.trace, &mut from, &req.data);
                if reader.is_none() {
                    server.pump(Duration::from_millis(1));
                }
            }
            // Then wait until that task is at work on it: it made its next
            // call (a sleep, a lock wait), or it has computed for a while.
            if let Some((tid, read_at)) = reader {
                let pid = server.pids.get(&tid).copied().unwrap_or(tid);
                let cpu_at_read = cpu_time(pid, tid);
                let next_call = |trace: &Trace| {
                    trace.events[read_at + 1..].iter().any(|e| {
                        e.tid == tid && matches!(e.kind, EventKind::Enter(_) | EventKind::Gone(_))
                    })
                };
                while !next_call(&server.trace)
                    && Instant::now() < deadline
                    && !server.stuck()
                    && match (cpu_at_read, cpu_time(pid, tid)) {
                        (Some(a), Some(b)) => b.saturating_sub(a) < AT_WORK,
                        _ => false,
                    }
                {
                    server.pump(Duration::from_millis(1));
                }
            }
        }
    }
    if let Some(f) = failed {
        return Observed::Failed(f);
    }
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); requests.len()];
    let mut done: Vec<Option<Instant>> = vec![None; requests.len()];
    let mut closed = vec![false; requests.len()];
    let deadline = Instant::now() + limits.reply;
    loop {
        for (i, req) in requests.iter().enumerate() {
            if done[i].is_some() || closed[i] {
                continue;
            }
            if let Some(s) = client(clients, req.client) {
                closed[i] = drain(s, &mut got[i], req.expected.len());
            }
            if got[i].len() >= req.expected.len() {
                done[i] = Some(Instant::now());
            }
        }
        let pending = (0..requests.len()).any(|i| done[i].is_none() && !closed[i]);
        if !pending || Instant::now() >= deadline || server.stuck() || server.overdue() {
            break;
        }
        server.pump(Duration::from_millis(1));
    }
    while server.pump(Duration::ZERO) {}
    let replies: Vec<Reply> = requests
        .iter()
        .enumerate()
        .map(|(i, req)| Reply {
            client: req.client,
            after: done[i]
                .filter(|_| got[i] == req.expected)
                .map(|d| d.duration_since(sent[i])),
            got: std::mem::take(&mut got[i]),
            expected: req.expected.clone(),
        })
        .collect();
    let wall = if replies.iter().all(|r| r.after.is_some()) {
        done.iter()
            .flatten()
            .max()
            .map(|last| last.duration_since(sent[0]))
    } else {
        None
    };
    Observed::Timed {
        replies,
        wall,
        events: first_event.unwrap_or(0)..server.trace.events.len(),
    }
}

/// The task that read `data` in an event since `*from`, and the event index
/// of that read's return; moves `*from` past the events looked at, so each
/// is looked at once.
pub(super) fn read_since(trace: &Trace, from: &mut usize, data: &[u8]) -> Option<(Tid, usize)> {
    let events = *from..trace.events.len();
    *from = trace.events.len();
    events.into_iter().find_map(|i| {
        let read = matches!(trace.events[i].kind, EventKind::Exit(_))
            && trace.record_of_event(i).is_some_and(|r| {
                let rec = &trace.records[r];
                let read = rec.read_the_start_of(data);
                // A splice shows no bytes: that it moved some since the
                // request went out (nothing else was active) is the read.
                let spliced = rec.is_a(&[Class::Splice])
                    && matches!(rec.ret, Some(Ret::Ok(Arg::Int(n))) if n > 0);
                read || spliced
            });
        read.then(|| (trace.events[i].tid, i))
    })
}

/// How much CPU the task that read a request must use before the next
/// request goes out, unless it makes another call first: enough to be past
/// taking a lock, so the next request cannot overtake it.
pub(super) const AT_WORK: Duration = Duration::from_millis(2);

/// Sends `data` from a writer thread while reading the reply. Reading stops
/// when the whole reply arrived, or when the server's kernel has the whole
/// request and the server has settled (so every byte it will send is
/// already here), or when nothing moved for the reply timeout (a stuck
/// server; the socket is then shut down to free the writer).
pub(super) fn burst(
    server: &mut Server,
    stream: &mut TcpStream,
    writer: TcpStream,
    data: Vec<u8>,
    limits: &Limits,
) -> Vec<u8> {
    let writer = Writer::spawn(writer, data);
    let got = read_reply(server, stream, &writer, limits);
    if !writer.done() {
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
    let _ = writer.handle.join();
    got
}

/// Reads the reply to what `writer` writes (or wrote) as it comes.
fn read_reply(
    server: &mut Server,
    stream: &mut TcpStream,
    writer: &Writer,
    limits: &Limits,
) -> Vec<u8> {
    let want = writer.expected.len();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_progress = Instant::now();
    let _ = stream.set_read_timeout(Some(Duration::from_millis(20)));
    while got.len() < want {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                last_progress = Instant::now();
                continue;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
        server.pump(Duration::ZERO);
        // The writer is done once the request is in the client's own send
        // queue; its tail may wait there a while (for the server's window
        // to open, or for a softirq on a loaded machine), and a server
        // blocked in read meanwhile is not finished. So the reply is
        // collected only once the server's kernel has every byte of the
        // request (TIOCOUTQ = 0); until then read on. A server that stopped
        // reading for good is given up on after the reply timeout.
        if writer.done() && unsent(stream) == 0 {
            got.extend(collect(server, stream, want - got.len()));
            break;
        }
        if last_progress.elapsed() > limits.reply || server.overdue() {
            break;
        }
    }
    got
}

/// Sends `data` from a writer thread, and reads the reply only each time the
/// server has settled: the server's replies pile up in the socket buffers
/// until its writes must wait, whatever their sizes. Reading stops when the
/// whole reply arrived, the server is gone, or nothing moved either way over
/// a few settles and the reply timeout (a stuck server).
pub(super) fn slow_burst(
    server: &mut Server,
    stream: &mut TcpStream,
    mut writer: TcpStream,
    data: Vec<u8>,
    limits: &Limits,
) -> Vec<u8> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let want = data.len();
    let sent = Arc::new(AtomicUsize::new(0));
    let writer_sent = Arc::clone(&sent);
    let handle = std::thread::spawn(move || {
        for chunk in data.chunks(64 * 1024) {
            if writer.write_all(chunk).is_err() {
                break;
            }
            writer_sent.fetch_add(chunk.len(), Ordering::SeqCst);
        }
    });
    let mut got = Vec::new();
    let mut last_progress = Instant::now();
    let mut stalls = 0;
    while got.len() < want {
        let flow = |s: &TcpStream| (acked(s), arrived(s));
        let before = (got.len(), sent.load(Ordering::SeqCst), acked(stream));
        let flow_before = flow(stream);
        let settled = server.settle();
        // Read only once the server has stopped: blocked or spinning, or
        // busy without taking input or sending replies during the whole
        // settle; and with bytes of the request waiting in the client's
        // send queue (it is not taking input: its replies wait for room),
        // or with the whole request sent. Until then the client reads
        // nothing, so the server's send buffer cannot grow (that needs its
        // replies acknowledged), and a reply bigger than any send buffer must
        // wait for room.
        // Reading earlier, at every settle, let a starved writer (a loaded
        // machine) pace the server, and a slow server's own buffers grow,
        // until its replies never filled them.
        let busy = matches!(settled, Settled::Busy { .. }) && flow(stream) != flow_before;
        let done = sent.load(Ordering::SeqCst) >= want;
        let closed = !busy && (done || unsent(stream) > 0) && drain(stream, &mut got, want);
        if closed || settled == Settled::Gone || server.overdue() {
            break;
        }
        // A server that takes input or sends replies is progressing.
        if (got.len(), sent.load(Ordering::SeqCst), acked(stream)) == before {
            stalls += 1;
            if stalls >= 3 && last_progress.elapsed() > limits.reply.min(Duration::from_secs(1)) {
                break;
            }
        } else {
            stalls = 0;
            last_progress = Instant::now();
        }
    }
    if sent.load(Ordering::SeqCst) < want {
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
    let _ = handle.join();
    got
}

/// Reads up to `want` bytes: whatever has arrived, and then, each time the
/// server settles (blocked, busy or gone), whatever arrived meanwhile, until a
/// settle brings nothing new and the server's kernel holds nothing more of
/// its replies. No clock decides when a reply is complete.
///
/// A server blocked in its next read may not have sent all it wrote: its
/// kernel holds a short last segment (Nagle's algorithm, unless the server
/// set `TCP_NODELAY`) until the client acknowledges the one before, and the
/// client's kernel may delay that ACK for 40 ms or more, longer on a loaded
/// machine. Those bytes are the server's socket's send queue.
pub(super) fn collect(server: &mut Server, stream: &TcpStream, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut closed = drain(stream, &mut got, want);
    let mut last_progress = Instant::now();
    while got.len() < want && !closed {
        let before = got.len();
        let settled = server.settle();
        // Looked at before draining: what the server's kernel no longer
        // holds, the client's has acknowledged, so it is here to drain.
        let held = server_unacked(stream, server.main).unwrap_or(0);
        closed = drain(stream, &mut got, want);
        if settled == Settled::Gone || server.overdue() {
            break;
        }
        if got.len() > before {
            last_progress = Instant::now();
        } else if held == 0 || last_progress.elapsed() > server.limits.reply {
            break;
        }
    }
    got
}
