//! Properties of the normalizer: transcripts do not depend on fd numbers,
//! pids, ports, or on how many times a repeated call ran; names are given
//! consistently (in accept order, used only after they are created).

use std::net::Ipv4Addr;
use std::time::Duration;

use iolab::normalize::{FdRole, normalize};
use iolab::trace::{Arg, Call, Event, EventKind, Ret, Return, SockAddr, Trace, syscall_nr};
use proptest::prelude::*;

/// What a synthetic server does: per connection, the chunk it reads, and how
/// many times the same `read` that returned EAGAIN ran before it.
#[derive(Clone, Debug)]
struct Shape {
    conns: Vec<(Vec<u8>, usize)>,
}

/// The numbers that vary run to run.
#[derive(Clone, Debug)]
struct Numbering {
    pid: i32,
    port: u16,
    listen_fd: i32,
    conn_fds: Vec<i32>,
}

struct Builder {
    pid: i32,
    events: Vec<Event>,
}

impl Builder {
    fn call(&mut self, name: &str, args: Vec<Arg>, ret: Ret, outs: Vec<(usize, Arg)>) {
        let nr = syscall_nr(name).expect("known syscall");
        let (tid, pid) = (self.pid, self.pid);
        let at = Duration::from_micros(self.events.len() as u64);
        self.events.push(Event {
            tid,
            pid,
            at,
            kind: EventKind::Enter(Call { nr, args }),
        });
        self.events.push(Event {
            tid,
            pid,
            at,
            kind: EventKind::Exit(Return { nr, ret, outs }),
        });
    }
}

fn build(shape: &Shape, n: &Numbering, repeats: &[usize]) -> Trace {
    let mut b = Builder {
        pid: n.pid,
        events: Vec::new(),
    };
    let l = n.listen_fd;
    b.call(
        "brk",
        vec![Arg::Ptr(0)],
        Ret::Ok(Arg::Ptr(0x5555_0000 + n.pid as u64)),
        vec![],
    );
    b.call(
        "socket",
        vec![
            Arg::Sym("AF_INET"),
            Arg::Flags {
                names: vec!["SOCK_STREAM"],
                rest: 0,
            },
            Arg::Sym("IPPROTO_IP"),
        ],
        Ret::Ok(Arg::Fd(l)),
        vec![],
    );
    let addr = Arg::Addr(SockAddr::Inet(Ipv4Addr::LOCALHOST, n.port));
    b.call(
        "bind",
        vec![Arg::Fd(l), addr, Arg::Int(16)],
        Ret::Ok(Arg::Int(0)),
        vec![],
    );
    b.call(
        "listen",
        vec![Arg::Fd(l), Arg::Int(128)],
        Ret::Ok(Arg::Int(0)),
        vec![],
    );
    let banner = format!("listening on 127.0.0.1:{}\n", n.port).into_bytes();
    let len = banner.len() as i64;
    b.call(
        "write",
        vec![
            Arg::Fd(1),
            Arg::Bytes {
                head: banner,
                len: len as u64,
            },
            Arg::Int(len),
        ],
        Ret::Ok(Arg::Int(len)),
        vec![],
    );
    for (i, (chunk, _)) in shape.conns.iter().enumerate() {
        let c = n.conn_fds[i];
        let peer = Arg::Addr(SockAddr::Inet(
            Ipv4Addr::LOCALHOST,
            40000 + n.pid as u16 % 1000 + i as u16,
        ));
        b.call(
            "accept",
            vec![Arg::Fd(l), Arg::Out(0x7ffd_0000), Arg::Out(0x7ffd_0100)],
            Ret::Ok(Arg::Fd(c)),
            vec![(1, peer), (2, Arg::IntRef(16))],
        );
        for _ in 0..repeats[i] {
            b.call(
                "read",
                vec![Arg::Fd(c), Arg::Out(0x7ffd_1000), Arg::Int(4096)],
                Ret::Err(libc::EAGAIN),
                vec![],
            );
        }
        let len = chunk.len() as u64;
        let bytes = Arg::Bytes {
            head: chunk.clone(),
            len,
        };
        b.call(
            "read",
            vec![Arg::Fd(c), Arg::Out(0x7ffd_1000), Arg::Int(4096)],
            Ret::Ok(Arg::Int(len as i64)),
            vec![(1, bytes.clone())],
        );
        b.call(
            "write",
            vec![Arg::Fd(c), bytes, Arg::Int(len as i64)],
            Ret::Ok(Arg::Int(len as i64)),
            vec![],
        );
        b.call("close", vec![Arg::Fd(c)], Ret::Ok(Arg::Int(0)), vec![]);
    }
    Trace::from_events(b.events)
}

fn shape() -> impl Strategy<Value = Shape> {
    prop::collection::vec(
        (prop::collection::vec(b'a'..=b'z', 1..12), 2usize..40),
        1..5,
    )
    .prop_map(|conns| Shape { conns })
}

/// Fd numbers for a shape: the listening fd stays open, connection fds are
/// any free numbers (closed ones may be reused).
fn numbering(conns: usize) -> impl Strategy<Value = Numbering> {
    (
        100i32..60000,
        1024u16..40000, // peers use 40000 and up
        3i32..50,
        prop::collection::vec(3i32..60, conns),
    )
        .prop_map(|(pid, port, listen_fd, mut conn_fds)| {
            for fd in &mut conn_fds {
                if *fd == listen_fd {
                    *fd += 60;
                }
            }
            Numbering {
                pid,
                port,
                listen_fd,
                conn_fds,
            }
        })
}

fn case() -> impl Strategy<Value = (Shape, Numbering, Numbering, Vec<usize>)> {
    shape().prop_flat_map(|s| {
        let k = s.conns.len();
        (
            Just(s),
            numbering(k),
            numbering(k),
            prop::collection::vec(2usize..40, k),
        )
    })
}

proptest! {
    #[test]
    fn transcript_ignores_numbers_and_repeat_counts((shape, n1, n2, repeats2) in case()) {
        let repeats1: Vec<usize> = shape.conns.iter().map(|(_, r)| *r).collect();
        let a = normalize(&build(&shape, &n1, &repeats1)).render();
        let b = normalize(&build(&shape, &n2, &repeats2)).render();
        prop_assert_eq!(&a, &b);
        // Nothing that varied leaks into the text.
        // The port shows only after a colon (an address, the banner); a
        // bare number such as a read's 4096 may equal it.
        prop_assert!(!a.contains(&format!(":{}", n1.port)), "port leaked:\n{}", a);
        prop_assert!(!a.contains("0x5555"), "pointer leaked:\n{}", a);
    }

    #[test]
    fn names_follow_accept_order_and_are_used_after_creation((shape, n1, _, _) in case()) {
        let repeats: Vec<usize> = shape.conns.iter().map(|(_, r)| *r).collect();
        let text = normalize(&build(&shape, &n1, &repeats)).render();
        let lines: Vec<&str> = text.lines().collect();
        prop_assert_eq!(lines[0], "socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = L");
        prop_assert_eq!(lines[1], "bind(L, {AF_INET, 127.0.0.1:PORT}, 16) = 0");
        prop_assert!(lines.iter().any(|l| l.starts_with("write(stdout, \"listening on 127.0.0.1:PORT\\n\"")));
        for i in 1..=shape.conns.len() {
            let name = format!("C{i}");
            let created = lines.iter().position(|l| l.starts_with("accept(L") && l.ends_with(&format!("= {name}")));
            prop_assert!(created.is_some(), "no accept = {} in:\n{}", name, text);
            let created = created.unwrap();
            let first_use = lines.iter().position(|l| l.contains(&format!("({name},"))).unwrap();
            prop_assert!(first_use > created);
            let close = format!("close({name}) = 0");
            prop_assert!(lines.contains(&close.as_str()), "no {} in:\n{}", close, text);
        }
        // Each EAGAIN storm is one line, marked, with no count in it.
        let storms = lines.iter().filter(|l| l.ends_with("= -1 EAGAIN  (storm)")).count();
        prop_assert_eq!(storms, shape.conns.len());
    }
}

#[test]
fn startup_noise_before_the_first_socket_call_is_dropped() {
    let shape = Shape {
        conns: vec![(b"hi".to_vec(), 2)],
    };
    let n = Numbering {
        pid: 42,
        port: 5000,
        listen_fd: 3,
        conn_fds: vec![4],
    };
    let text = normalize(&build(&shape, &n, &[2])).render();
    assert!(!text.contains("brk"), "{text}");
    assert!(text.starts_with("socket("), "{text}");
}

#[test]
fn counts_show_in_the_report_form_only() {
    let shape = Shape {
        conns: vec![(b"hi".to_vec(), 7)],
    };
    let n = Numbering {
        pid: 42,
        port: 5000,
        listen_fd: 3,
        conn_fds: vec![4],
    };
    let t = normalize(&build(&shape, &n, &[7]));
    assert!(t.render_with_counts().contains("(storm of 7 calls)"));
    assert!(!t.render().contains('×'));
}

fn fd_set(given: &[i32], ready: Option<&[i32]>) -> Arg {
    Arg::FdSet {
        given: given.to_vec(),
        ready: ready.map(<[i32]>::to_vec),
    }
}

fn epoll_event(events: &[&'static str], data: u64) -> iolab::trace::EpollEvent {
    iolab::trace::EpollEvent {
        events: events.to_vec(),
        rest: 0,
        data,
    }
}

/// A listening socket on fd 3 and one accepted connection on fd 7.
fn listening(b: &mut Builder) {
    let stream = Arg::Flags {
        names: vec!["SOCK_STREAM"],
        rest: 0,
    };
    b.call(
        "socket",
        vec![Arg::Sym("AF_INET"), stream, Arg::Sym("IPPROTO_IP")],
        Ret::Ok(Arg::Fd(3)),
        vec![],
    );
    b.call(
        "listen",
        vec![Arg::Fd(3), Arg::Int(128)],
        Ret::Ok(Arg::Int(0)),
        vec![],
    );
    b.call(
        "accept",
        vec![Arg::Fd(3), Arg::Ptr(0), Arg::Ptr(0)],
        Ret::Ok(Arg::Fd(7)),
        vec![],
    );
}

#[test]
fn select_sets_and_what_they_reported_use_fd_names() {
    let mut b = Builder {
        pid: 9,
        events: Vec::new(),
    };
    listening(&mut b);
    b.call(
        "select",
        vec![
            Arg::Int(8),
            fd_set(&[3, 7], None),
            fd_set(&[7], None),
            Arg::Ptr(0),
            Arg::Ptr(0),
        ],
        Ret::Ok(Arg::Int(2)),
        vec![(1, fd_set(&[], Some(&[7]))), (2, fd_set(&[], Some(&[7])))],
    );
    let trace = Trace::from_events(b.events);
    let t = normalize(&trace);
    let text = t.render();
    assert!(
        text.contains("select(8, {L, C1}, {C1}, NULL, NULL) = 2 (in {C1}, out {C1})"),
        "{text}"
    );
    let ready = t
        .ready(trace.records.len() - 1)
        .expect("a wait that returned");
    assert_eq!(ready.len(), 1);
    assert!(ready[0].role == Some(FdRole::Conn(1)) && ready[0].readable() && ready[0].writable());
}

#[test]
fn epoll_events_name_the_fd_their_data_was_registered_for() {
    let mut b = Builder {
        pid: 9,
        events: Vec::new(),
    };
    listening(&mut b);
    b.call(
        "epoll_create1",
        vec![Arg::Flags {
            names: vec!["EPOLL_CLOEXEC"],
            rest: 0,
        }],
        Ret::Ok(Arg::Fd(5)),
        vec![],
    );
    // Data as the fd number, and data as a token that is not an fd.
    b.call(
        "epoll_ctl",
        vec![
            Arg::Fd(5),
            Arg::Sym("EPOLL_CTL_ADD"),
            Arg::Fd(3),
            Arg::Epoll(epoll_event(&["EPOLLIN"], 3)),
        ],
        Ret::Ok(Arg::Int(0)),
        vec![],
    );
    b.call(
        "epoll_ctl",
        vec![
            Arg::Fd(5),
            Arg::Sym("EPOLL_CTL_ADD"),
            Arg::Fd(7),
            Arg::Epoll(epoll_event(&["EPOLLIN", "EPOLLET"], 100)),
        ],
        Ret::Ok(Arg::Int(0)),
        vec![],
    );
    b.call(
        "epoll_wait",
        vec![Arg::Fd(5), Arg::Out(0x7ff0), Arg::Int(64), Arg::Int(-1)],
        Ret::Ok(Arg::Int(3)),
        vec![(
            1,
            Arg::EpollEvents(vec![
                epoll_event(&["EPOLLIN"], 100),
                epoll_event(&["EPOLLIN"], 3),
                epoll_event(&["EPOLLOUT"], 42),
            ]),
        )],
    );
    let trace = Trace::from_events(b.events);
    let text = normalize(&trace).render();
    assert!(text.contains("epoll_create1(EPOLL_CLOEXEC) = EP"), "{text}");
    assert!(
        text.contains("epoll_ctl(EP, EPOLL_CTL_ADD, L, {EPOLLIN, data=L}) = 0"),
        "{text}"
    );
    assert!(
        text.contains("epoll_ctl(EP, EPOLL_CTL_ADD, C1, {EPOLLIN|EPOLLET, data=100}) = 0"),
        "{text}"
    );
    assert!(
        text.contains(
            "epoll_wait(EP, [{EPOLLIN, C1}, {EPOLLIN, L}, {EPOLLOUT, data=42}], 64, -1) = 3"
        ),
        "{text}"
    );
}

#[test]
fn a_step_inside_a_storm_is_printed_in_front_of_it() {
    let build = |before: usize, after: usize| {
        let mut b = Builder {
            pid: 9,
            events: Vec::new(),
        };
        listening(&mut b);
        let eagain = |b: &mut Builder| {
            b.call(
                "read",
                vec![Arg::Fd(7), Arg::Out(0x7ff0), Arg::Int(4096)],
                Ret::Err(11),
                vec![],
            );
        };
        for _ in 0..before {
            eagain(&mut b);
        }
        b.events.push(Event {
            tid: 0,
            pid: 0,
            at: Duration::ZERO,
            kind: EventKind::Step("A: send \"hi\"".into()),
        });
        for _ in 0..after {
            eagain(&mut b);
        }
        b.call(
            "read",
            vec![Arg::Fd(7), Arg::Out(0x7ff0), Arg::Int(4096)],
            Ret::Ok(Arg::Int(2)),
            vec![(
                1,
                Arg::Bytes {
                    head: b"hi".to_vec(),
                    len: 2,
                },
            )],
        );
        normalize(&Trace::from_events(b.events)).render()
    };
    let expected =
        "-- A: send \"hi\"\nread(C1, 0x…, 4096) = -1 EAGAIN  (storm)\nread(C1, \"hi\", 4096) = 2\n";
    for (before, after) in [(5, 3), (9, 0), (2, 40)] {
        let text = build(before, after);
        assert!(text.ends_with(expected), "{before}+{after}:\n{text}");
    }
}

#[test]
fn a_storm_inside_a_repeated_block_keeps_its_mark_and_all_its_calls() {
    let mut b = Builder {
        pid: 9,
        events: Vec::new(),
    };
    listening(&mut b);
    let read = |b: &mut Builder, ret: Ret, outs: Vec<(usize, Arg)>| {
        b.call(
            "read",
            vec![Arg::Fd(7), Arg::Out(0x7ff0), Arg::Int(4096)],
            ret,
            outs,
        );
    };
    for _ in 0..3 {
        read(&mut b, Ret::Err(11), vec![]);
        read(&mut b, Ret::Err(11), vec![]);
        let hi = Arg::Bytes {
            head: b"hi".to_vec(),
            len: 2,
        };
        read(&mut b, Ret::Ok(Arg::Int(2)), vec![(1, hi)]);
    }
    let t = normalize(&Trace::from_events(b.events));
    let expected = "read(C1, 0x…, 4096) = -1 EAGAIN  (storm)\nread(C1, \"hi\", 4096) = 2\n  (the 2 lines above repeated)\n";
    assert!(t.render().ends_with(expected), "{}", t.render());
    let counted = t.render_with_counts();
    assert!(counted.contains("(storm of 6 calls)"), "{counted}");
    assert!(
        counted.contains("(the 2 lines above repeated ×3)"),
        "{counted}"
    );
}

/// One task's call as separate entry and exit events, to interleave tasks.
fn enter(tid: i32, pid: i32, name: &str, args: Vec<Arg>) -> Event {
    let nr = syscall_nr(name).expect("known syscall");
    Event {
        tid,
        pid,
        at: Duration::ZERO,
        kind: EventKind::Enter(Call { nr, args }),
    }
}

fn exit(tid: i32, pid: i32, name: &str, ret: Ret) -> Event {
    let nr = syscall_nr(name).expect("known syscall");
    Event {
        tid,
        pid,
        at: Duration::ZERO,
        kind: EventKind::Exit(Return {
            nr,
            ret,
            outs: vec![],
        }),
    }
}

#[test]
fn threads_get_sections_that_scheduling_cannot_reorder() {
    let futex = |word: u64, op: &'static str, val: i64| {
        vec![
            Arg::Word(word),
            Arg::Flags {
                names: vec![op],
                rest: 0,
            },
            Arg::Int(val),
        ]
    };
    // `main_first`: whether main's getppid is traced before T1's gettid;
    // `word`: the lock word's address, different every run.
    let build = |main_first: bool, word: u64, tid: i32| {
        let mut b = Builder {
            pid: 40,
            events: Vec::new(),
        };
        listening(&mut b);
        b.events
            .push(enter(40, 40, "clone3", vec![Arg::Ptr(0x10), Arg::Int(88)]));
        b.events.push(Event {
            tid: 40,
            pid: 40,
            at: Duration::ZERO,
            kind: EventKind::Spawn {
                child: tid,
                kind: iolab::trace::SpawnKind::Thread,
            },
        });
        b.events
            .push(exit(40, 40, "clone3", Ret::Ok(Arg::Tid(tid))));
        let getppid = [
            enter(40, 40, "getppid", vec![]),
            exit(40, 40, "getppid", Ret::Ok(Arg::Int(1))),
        ];
        let gettid = [
            enter(tid, 40, "gettid", vec![]),
            exit(tid, 40, "gettid", Ret::Ok(Arg::Tid(tid))),
        ];
        if main_first {
            b.events.extend(getppid.into_iter().chain(gettid));
        } else {
            b.events.extend(gettid.into_iter().chain(getppid));
        }
        b.events.extend([
            enter(tid, 40, "futex", futex(word, "FUTEX_WAIT_PRIVATE", 0)),
            enter(40, 40, "futex", futex(word, "FUTEX_WAKE_PRIVATE", 1)),
            exit(40, 40, "futex", Ret::Ok(Arg::Int(1))),
            exit(tid, 40, "futex", Ret::Ok(Arg::Int(0))),
        ]);
        normalize(&Trace::from_events(b.events)).render()
    };
    let a = build(true, 0x7f00_1000, 41);
    let b = build(false, 0x7f99_2040, 977);
    assert_eq!(a, b);
    assert!(a.starts_with("== main ==\n"), "{a}");
    let t1 = a
        .find("== T1: thread of main ==")
        .expect("a section for T1");
    assert!(
        a[t1..].contains("gettid() = T1\nfutex(W1, FUTEX_WAIT_PRIVATE, 0) = 0"),
        "{a}"
    );
    assert!(
        a[..t1].contains("futex(W1, FUTEX_WAKE_PRIVATE, 1) = 1"),
        "{a}"
    );
    assert!(
        a.ends_with("== who waited for whom ==\nT1 waited on W1 for main (futex)\n"),
        "{a}"
    );
}

#[test]
fn a_reaped_child_is_named_in_waitid_and_in_the_summary() {
    let mut b = Builder {
        pid: 70,
        events: Vec::new(),
    };
    listening(&mut b);
    b.events.extend([
        enter(70, 70, "clone", vec![]),
        Event {
            tid: 70,
            pid: 70,
            at: Duration::ZERO,
            kind: EventKind::Spawn {
                child: 71,
                kind: iolab::trace::SpawnKind::Process,
            },
        },
        exit(70, 70, "clone", Ret::Ok(Arg::Tid(71))),
        enter(71, 71, "getpid", vec![]),
        exit(71, 71, "getpid", Ret::Ok(Arg::Tid(71))),
        Event {
            tid: 71,
            pid: 71,
            at: Duration::ZERO,
            kind: EventKind::Gone(iolab::trace::Termination::Killed {
                signal: libc::SIGABRT,
                core: false,
            }),
        },
    ]);
    b.call(
        "waitid",
        vec![Arg::Sym("P_ALL"), Arg::Int(0), Arg::Out(0x7ff0)],
        Ret::Ok(Arg::Int(0)),
        vec![(
            2,
            Arg::ChildInfo {
                code: "CLD_KILLED",
                pid: 71,
                status: "SIGABRT".into(),
            },
        )],
    );
    let text = normalize(&Trace::from_events(b.events)).render();
    assert!(
        text.contains("waitid(P_ALL, 0, {si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=P1, si_status=SIGABRT}) = 0"),
        "{text}"
    );
    assert!(
        text.ends_with("main waited for P1 (waitid): killed by SIGABRT\n"),
        "{text}"
    );
}

#[test]
fn a_child_seen_before_its_parents_fork_event_inherits_its_fds() {
    // The child's first calls can reach the trace before its parent's
    // fork event (its first stop came first): the transcript must not
    // depend on which came first.
    let build = |child_first: bool| {
        let mut b = Builder {
            pid: 80,
            events: Vec::new(),
        };
        listening(&mut b);
        let spawn = Event {
            tid: 80,
            pid: 80,
            at: Duration::ZERO,
            kind: EventKind::Spawn {
                child: 81,
                kind: iolab::trace::SpawnKind::Process,
            },
        };
        let child = [
            enter(81, 81, "accept", vec![Arg::Fd(3), Arg::Ptr(0), Arg::Ptr(0)]),
            exit(81, 81, "accept", Ret::Ok(Arg::Fd(8))),
        ];
        b.events.push(enter(80, 80, "clone", vec![]));
        if child_first {
            b.events.extend(child.into_iter().chain([spawn]));
        } else {
            b.events.extend([spawn].into_iter().chain(child));
        }
        b.events.push(exit(80, 80, "clone", Ret::Ok(Arg::Tid(81))));
        normalize(&Trace::from_events(b.events)).render()
    };
    let late = build(true);
    assert_eq!(late, build(false));
    let p1 = late
        .find("== P1: process forked by main ==")
        .unwrap_or_else(|| panic!("a section for P1 as main's child:\n{late}"));
    assert!(late[p1..].contains("accept(L, NULL, NULL) = C2"), "{late}");
}
