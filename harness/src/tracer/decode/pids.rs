//! Pids as the harness sees them, in what a program in a pid namespace of
//! its own passed to the kernel and got back.
//!
//! A sandboxed program runs in a pid namespace of its own (see
//! `crate::sandbox`): `fork` returns it 3 where the harness, the tracers
//! and `/proc` know the child as 48213. Both backends name tasks by the
//! harness's pids, so the values must be too, or a `clone`'s result, a
//! `wait4`'s and a `kill`'s target would name no task. The native tracer
//! learns each new task's number inside from its `/proc/PID/status`
//! (`NSpid`); strace, run with `--pidns-translation`, prints both
//! (`= 3 /* 48213 in strace's PID NS */`) except in a few places (a
//! resumed call's result), which the pairs it printed before fill in.

use std::collections::HashMap;

use crate::trace::{Arg, Call, Ret, Return, Tid};

/// Pids inside the namespace, to the harness's.
#[derive(Clone, Debug, Default)]
pub(crate) struct PidMap {
    global: HashMap<Tid, Tid>,
}

impl PidMap {
    /// Records that `local` inside is `global` here.
    pub(crate) fn learn(&mut self, local: Tid, global: Tid) {
        self.global.insert(local, global);
    }

    /// Records the task `global`'s own number in its innermost pid
    /// namespace, as its `/proc/PID/status` says (the last `NSpid`).
    pub(crate) fn learn_from_proc(&mut self, global: Tid) {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{global}/status")) else {
            return;
        };
        let local = status
            .lines()
            .find_map(|l| l.strip_prefix("NSpid:"))
            .and_then(|v| v.split_whitespace().last())
            .and_then(|v| v.parse().ok());
        if let Some(local) = local {
            self.learn(local, global);
        }
    }

    fn arg(&self, arg: &mut Arg) {
        let (Arg::Tid(t) | Arg::ChildInfo { pid: t, .. }) = arg else {
            return;
        };
        if let Some(&g) = self.global.get(t) {
            *t = g;
        }
    }

    /// The call's task arguments, as the harness's pids.
    pub(crate) fn call(&self, call: &mut Call) {
        call.args.iter_mut().for_each(|a| self.arg(a));
    }

    /// The return's task value and outputs, as the harness's pids.
    pub(crate) fn ret(&self, ret: &mut Return) {
        if let Ret::Ok(a) = &mut ret.ret {
            self.arg(a);
        }
        ret.outs.iter_mut().for_each(|(_, a)| self.arg(a));
    }

    /// An strace line with each `N /* G in strace's PID NS */` written as
    /// `G`, learning every pair; `None` if it has none.
    pub(crate) fn strace_line(&mut self, line: &[u8]) -> Option<Vec<u8>> {
        const TAIL: &[u8] = b" in strace's PID NS */";
        let find = |hay: &[u8], needle: &[u8], from: usize| {
            hay.get(from..)?
                .windows(needle.len())
                .position(|w| w == needle)
                .map(|p| p + from)
        };
        let mut first = find(line, TAIL, 0)?;
        let mut out = Vec::with_capacity(line.len());
        let mut copied = 0;
        loop {
            // `... N /* G` ends where TAIL starts.
            let open = line[..first].iter().rposition(|&b| b == b'/');
            let parsed = open.and_then(|open| {
                let inside = line[..open].strip_suffix(b" ")?;
                let g = std::str::from_utf8(line.get(open + 2..first)?)
                    .ok()?
                    .trim()
                    .parse::<Tid>()
                    .ok()?;
                let start = inside
                    .iter()
                    .rposition(|b| !b.is_ascii_digit())
                    .map_or(0, |p| p + 1);
                let n = std::str::from_utf8(&inside[start..])
                    .ok()?
                    .parse::<Tid>()
                    .ok()?;
                Some((start, n, g))
            });
            match parsed {
                Some((start, n, g)) if start >= copied => {
                    self.learn(n, g);
                    out.extend_from_slice(&line[copied..start]);
                    out.extend_from_slice(g.to_string().as_bytes());
                    copied = first + TAIL.len();
                }
                _ => {
                    out.extend_from_slice(&line[copied..first + TAIL.len()]);
                    copied = first + TAIL.len();
                }
            }
            match find(line, TAIL, copied) {
                Some(next) => first = next,
                None => break,
            }
        }
        out.extend_from_slice(&line[copied..]);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strace_pairs_are_rewritten_and_learned() {
        let mut map = PidMap::default();
        let line = b"clone(child_stack=NULL, flags=SIGCHLD) = 5 /* 21607 in strace's PID NS */";
        let out = map.strace_line(line).expect("a pair");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "clone(child_stack=NULL, flags=SIGCHLD) = 21607"
        );
        let line = b"[pid 21606] kill(5 /* 21607 in strace's PID NS */, 0) = 0";
        let out = map.strace_line(line).expect("a pair");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[pid 21606] kill(21607, 0) = 0"
        );
        assert!(map.strace_line(b"getpid() = 3").is_none());
        let mut ret = Return {
            nr: 61,
            ret: Ret::Ok(Arg::Tid(5)),
            outs: vec![],
        };
        map.ret(&mut ret);
        assert_eq!(ret.ret, Ret::Ok(Arg::Tid(21607)));
        let mut unknown = Return {
            nr: 61,
            ret: Ret::Ok(Arg::Tid(9)),
            outs: vec![],
        };
        map.ret(&mut unknown);
        assert_eq!(unknown.ret, Ret::Ok(Arg::Tid(9)));
        let mut reaped = Return {
            nr: 247,
            ret: Ret::Ok(Arg::Int(0)),
            outs: vec![(
                2,
                Arg::ChildInfo {
                    code: "CLD_EXITED",
                    pid: 5,
                    status: "0".into(),
                },
            )],
        };
        map.ret(&mut reaped);
        assert!(matches!(
            reaped.outs[0].1,
            Arg::ChildInfo { pid: 21607, .. }
        ));
    }

    #[test]
    fn a_task_of_this_namespace_maps_to_itself() {
        let mut map = PidMap::default();
        let me = std::process::id() as Tid;
        map.learn_from_proc(me);
        let mut call = Call {
            nr: 62,
            args: vec![Arg::Tid(me), Arg::Int(0)],
        };
        map.call(&mut call);
        assert_eq!(call.args[0], Arg::Tid(me));
    }
}
