//! The seccomp-bpf program that makes the kernel stop a tracee only on the
//! syscalls of a [`SyscallSet`] (`SECCOMP_RET_TRACE`) and run every other
//! one untouched (`SECCOMP_RET_ALLOW`): a syscall the tracer does not want
//! costs a few BPF instructions instead of two ptrace stops.
//!
//! The program tests the syscall number against the set's bitmap, 32
//! syscalls to a word: `nr >> 5` picks the word, `1 << (nr & 31)` the bit,
//! so every syscall costs the same 20-odd instructions however large the set.
//! Anything that is not a plain x86_64 syscall (the i386 or x32 ABIs) stops.
//!
//! Two exceptions keep the program's start working. The filter is
//! installed before the `execve` that starts the program, when the tracer
//! has not yet asked for seccomp stops: it could only once the child
//! stopped, and the child is started with std's `Command`, whose `spawn`
//! (on the tracer's own thread) returns only after the exec; strace, which
//! forks by hand, stops the child first instead. An unasked-for
//! `SECCOMP_RET_TRACE` fails the call with `ENOSYS`. So [`Launch`] makes
//! that `execve` itself, and the program lets it through when its path is
//! the very pointer the harness passes (any other `execve` stops); and if
//! the exec fails, the child ends with an `exit_group` whose argument
//! carries a mark in its high bits, which the program also lets through.
//! (Through std's own error path, a `write` and an `exit_group` that both
//! fail with `ENOSYS`, the child would hang in a crash the tracer, still
//! inside `spawn`, never waits for.) Both exceptions stay in the filter for
//! the whole run: a later `execve` from that very address, or an
//! `exit_group` with that mark, runs without a stop (the exec is still
//! seen as an event, the exit as the task's end).

use std::ffi::{OsStr, OsString};
use std::io;

use crate::filter::{MAX_SYSCALLS, SyscallSet};
use crate::sys::process::Launch;

/// `AUDIT_ARCH_X86_64` from `linux/audit.h` (`EM_X86_64`, 64-bit, little endian).
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// Offsets into `struct seccomp_data`.
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0_LOW: u32 = 16;
const ARG0_HIGH: u32 = 20;
const EXECVE: u32 = 59;
const EXIT_GROUP: u32 = 231;
/// The high 32 bits of the `exit_group` argument of a child whose exec
/// failed (the low bits are the errno, and the exit status its low byte).
const EXEC_FAILED: u32 = 0x10_1a_b0_0f;

/// A compiled filter, ready to be installed in a child between fork and exec
/// (by `crate::sys::seccomp`).
#[derive(Clone, Debug)]
pub(crate) struct Program {
    filter: Vec<libc::sock_filter>,
}

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_JMP | code | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    }
}

impl Program {
    /// The program that stops on `set`, letting through the harness's own
    /// `execve` of the path at address `exec_path` in the child.
    pub(crate) fn new(set: &SyscallSet, exec_path: u64) -> Program {
        let load = |offset| stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset);
        let ret = |action| stmt(libc::BPF_RET | libc::BPF_K, action);
        let mut f = vec![
            load(ARCH),
            jump(libc::BPF_JEQ, AUDIT_ARCH_X86_64, 1, 0),
            ret(libc::SECCOMP_RET_TRACE),
            load(NR),
            jump(libc::BPF_JGE, MAX_SYSCALLS as u32, 0, 1),
            ret(libc::SECCOMP_RET_TRACE),
            // The harness's own execve goes through (see the module doc).
            jump(libc::BPF_JEQ, EXECVE, 0, 5),
            load(ARG0_LOW),
            jump(libc::BPF_JEQ, exec_path as u32, 0, 3),
            load(ARG0_HIGH),
            jump(libc::BPF_JEQ, (exec_path >> 32) as u32, 0, 1),
            ret(libc::SECCOMP_RET_ALLOW),
            load(NR),
            // And so does the exit of a child whose exec failed.
            jump(libc::BPF_JEQ, EXIT_GROUP, 0, 3),
            load(ARG0_HIGH),
            jump(libc::BPF_JEQ, EXEC_FAILED, 0, 1),
            ret(libc::SECCOMP_RET_ALLOW),
            load(NR),
            stmt(libc::BPF_ALU | libc::BPF_RSH | libc::BPF_K, 5),
        ];
        // One block per word that holds any syscall of the set: with A the
        // word number, a block either matches (and tests the bit) or skips.
        // Blocks end by jumping to the last two instructions: allow, trace.
        let words: Vec<(usize, u32)> = (0..MAX_SYSCALLS / 32)
            .map(|w| (w, set.word32(w)))
            .filter(|&(_, bits)| bits != 0)
            .collect();
        // Jumps are one byte: every block fits however full the set.
        const _: () = assert!(MAX_SYSCALLS / 32 * 7 + 1 < u8::MAX as usize);
        let block_len = |bits: u32| if bits == u32::MAX { 1 } else { 7 };
        let mut remaining: usize = words.iter().map(|&(_, b)| block_len(b)).sum();
        for &(word, bits) in &words {
            remaining -= block_len(bits);
            // From the block's last instruction: `remaining` blocks follow,
            // then `ret ALLOW`, then `ret TRACE`.
            let to_allow = remaining as u8;
            let to_trace = to_allow + 1;
            if bits == u32::MAX {
                f.push(jump(libc::BPF_JEQ, word as u32, to_trace, 0));
                continue;
            }
            f.extend([
                jump(libc::BPF_JEQ, word as u32, 0, 6),
                load(NR),
                stmt(libc::BPF_ALU | libc::BPF_AND | libc::BPF_K, 31),
                stmt(libc::BPF_MISC | libc::BPF_TAX, 0),
                stmt(libc::BPF_LD | libc::BPF_IMM, 1),
                stmt(libc::BPF_ALU | libc::BPF_LSH | libc::BPF_X, 0),
                jump(libc::BPF_JSET, bits, to_trace, to_allow),
            ]);
        }
        f.push(ret(libc::SECCOMP_RET_ALLOW));
        f.push(ret(libc::SECCOMP_RET_TRACE));
        Program { filter: f }
    }

    /// How many instructions the program has.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.filter.len()
    }

    /// Runs the program on one syscall, as the kernel would: whether it
    /// stops (for tests; the kernel is the real interpreter).
    #[cfg(test)]
    fn stops(&self, arch: u32, nr: u32, arg0: u64) -> bool {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        loop {
            let i = self.filter[pc];
            let code = u32::from(i.code);
            pc += 1;
            match code {
                c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => {
                    a = match i.k {
                        NR => nr,
                        ARCH => arch,
                        ARG0_LOW => arg0 as u32,
                        ARG0_HIGH => (arg0 >> 32) as u32,
                        k => panic!("load of offset {k}"),
                    }
                }
                c if c == libc::BPF_LD | libc::BPF_IMM => a = i.k,
                c if c == libc::BPF_ALU | libc::BPF_RSH | libc::BPF_K => a >>= i.k,
                c if c == libc::BPF_ALU | libc::BPF_AND | libc::BPF_K => a &= i.k,
                c if c == libc::BPF_ALU | libc::BPF_LSH | libc::BPF_X => a <<= x,
                c if c == libc::BPF_MISC | libc::BPF_TAX => x = a,
                c if c == libc::BPF_RET | libc::BPF_K => {
                    return i.k == libc::SECCOMP_RET_TRACE;
                }
                c => {
                    let taken = match c & !(libc::BPF_JMP | libc::BPF_K) {
                        op if op == libc::BPF_JEQ => a == i.k,
                        op if op == libc::BPF_JGE => a >= i.k,
                        op if op == libc::BPF_JSET => a & i.k != 0,
                        op => panic!("jump op {op:#x}"),
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
            }
        }
    }
}

/// What a child needs to install the filter and start the program, all
/// prepared before the fork (between fork and exec nothing may allocate):
/// the exec of the file `path` (no `PATH` search) as `arg0 args`, with the
/// harness's environment (what `inherit` keeps) plus `env`, under a filter that stops on `set`
/// and lets that very exec through.
pub(crate) fn launch(
    set: &SyscallSet,
    path: &OsStr,
    arg0: &OsStr,
    args: &[OsString],
    env: &[(OsString, OsString)],
    inherit: fn(&OsStr) -> bool,
) -> io::Result<Launch> {
    let launch = Launch::new(path, arg0, args, env, EXEC_FAILED, inherit)?;
    let program = Program::new(set, launch.path_address());
    Ok(launch.filter(program.filter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OUR_PATH: u64 = 0x5555_1234_5678;

    proptest! {
        /// The program stops on exactly the set's syscalls, for any set.
        #[test]
        fn stops_exactly_on_the_set(
            members in proptest::collection::btree_set(0u64..MAX_SYSCALLS as u64, 0..300),
            full_word in 0usize..16,
            nr in 0u32..MAX_SYSCALLS as u32,
        ) {
            let mut set = SyscallSet::none();
            for &m in &members {
                set.insert(m);
            }
            for m in 0..32 {
                // One word entirely in the set: the one-instruction block.
                if full_word % 3 == 0 {
                    set.insert((full_word * 32 + m) as u64);
                }
            }
            let program = Program::new(&set, OUR_PATH);
            prop_assert!(program.len() < 256, "jumps must fit in a byte");
            let arg0 = if nr == EXECVE { OUR_PATH + 1 } else { 0 };
            prop_assert_eq!(program.stops(AUDIT_ARCH_X86_64, nr, arg0), set.contains(u64::from(nr)));
        }
    }

    #[test]
    fn only_the_marked_exit_of_a_failed_exec_goes_through() {
        let program = Program::new(&SyscallSet::parse("%process").unwrap(), OUR_PATH);
        assert!(program.stops(AUDIT_ARCH_X86_64, EXIT_GROUP, 0));
        assert!(program.stops(AUDIT_ARCH_X86_64, EXIT_GROUP, 2));
        let marked = (u64::from(EXEC_FAILED) << 32) | 2;
        assert!(!program.stops(AUDIT_ARCH_X86_64, EXIT_GROUP, marked));
    }

    #[test]
    fn other_abis_and_unknown_numbers_always_stop() {
        let program = Program::new(&SyscallSet::parse("read").unwrap(), OUR_PATH);
        assert!(program.stops(0x4000_0003, 0, 0), "i386");
        assert!(program.stops(AUDIT_ARCH_X86_64, 0x4000_0000 | 1, 0), "x32");
        assert!(program.stops(AUDIT_ARCH_X86_64, 0, 0));
        assert!(!program.stops(AUDIT_ARCH_X86_64, 1, 0));
    }

    #[test]
    fn only_the_harness_own_execve_goes_through() {
        let program = Program::new(&SyscallSet::parse("execve").unwrap(), OUR_PATH);
        assert!(!program.stops(AUDIT_ARCH_X86_64, EXECVE, OUR_PATH));
        assert!(program.stops(AUDIT_ARCH_X86_64, EXECVE, OUR_PATH + 8));
        assert!(program.stops(AUDIT_ARCH_X86_64, EXECVE, OUR_PATH ^ 1 << 40));
        let without = Program::new(&SyscallSet::parse("read").unwrap(), OUR_PATH);
        assert!(!without.stops(AUDIT_ARCH_X86_64, EXECVE, OUR_PATH + 8));
    }
}
