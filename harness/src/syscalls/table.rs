//! The rows of the syscall table: every call the decoders decode, with its
//! libc number, class and argument kinds (in the native decoder's layout,
//! which is strace's).

use super::flags::{
    CLOCKS, EPOLL_CREATE_FLAGS, EPOLL_OPS, FAMILIES, FCNTL_CMDS, ID_TYPES, IOCTL_REQUESTS,
    MSG_FLAGS, O_FLAGS, PROTOCOLS, PTRACE_REQUESTS, SEEK_WHENCES, SHUTDOWN_HOWS, SIGPROCMASK_HOWS,
    SOCK_FLAGS, SOCKOPT_LEVELS, SPLICE_FLAGS, TIMER_FLAGS, WAIT_OPTIONS, WAITID_OPTIONS,
};
use super::row::{Class, Class::*, Kind, Kind::*, Syscall, TimeUnit::*};

const fn row(nr: libc::c_long, name: &'static str, class: Class, args: &'static [Kind]) -> Syscall {
    Syscall {
        nr: nr as u64,
        name,
        class,
        args,
    }
}

use libc as l;

#[rustfmt::skip]
pub(super) static SYSCALLS: &[Syscall] = &[
    // Sockets.
    row(l::SYS_socket, "socket", Socket, &[Sym(FAMILIES), SocketType, Sym(PROTOCOLS)]),
    row(l::SYS_socketpair, "socketpair", Socket, &[Sym(FAMILIES), SocketType, Sym(PROTOCOLS), Ptr]),
    row(l::SYS_bind, "bind", Bind, &[Fd, Addr, Int]),
    row(l::SYS_connect, "connect", Connect, &[Fd, Addr, Int]),
    row(l::SYS_listen, "listen", Listen, &[Fd, Int]),
    row(l::SYS_accept, "accept", Accept, &[Fd, Addr, Ptr]),
    row(l::SYS_accept4, "accept4", Accept, &[Fd, Addr, Ptr, Flags(SOCK_FLAGS)]),
    row(l::SYS_getsockname, "getsockname", SockName, &[Fd, Addr, Ptr]),
    row(l::SYS_getpeername, "getpeername", SockName, &[Fd, Addr, Ptr]),
    row(l::SYS_setsockopt, "setsockopt", SockOpt, &[Fd, Sym(SOCKOPT_LEVELS), Varies, Varies, Int]),
    row(l::SYS_getsockopt, "getsockopt", SockOpt, &[Fd, Sym(SOCKOPT_LEVELS), Varies, Varies, Ptr]),
    row(l::SYS_shutdown, "shutdown", Shutdown, &[Fd, Sym(SHUTDOWN_HOWS)]),
    // Reads and writes.
    row(l::SYS_read, "read", Read, &[Fd, Buf, Len]),
    row(l::SYS_write, "write", Write, &[Fd, Buf, Len]),
    row(l::SYS_recvfrom, "recvfrom", Read, &[Fd, Buf, Len, Flags(MSG_FLAGS), Addr, Ptr]),
    row(l::SYS_sendto, "sendto", Write, &[Fd, Buf, Len, Flags(MSG_FLAGS), Addr, Int]),
    row(l::SYS_recvmsg, "recvmsg", Read, &[Fd, Buf, Flags(MSG_FLAGS)]),
    row(l::SYS_sendmsg, "sendmsg", Write, &[Fd, Buf, Flags(MSG_FLAGS)]),
    row(l::SYS_readv, "readv", Read, &[Fd, Ptr, Int]),
    row(l::SYS_writev, "writev", Write, &[Fd, Ptr, Int]),
    row(l::SYS_recvmmsg, "recvmmsg", Read, &[Fd, Ptr, Int]),
    // Bytes moved from fd to fd: the source first, but sendfile's is second.
    row(l::SYS_splice, "splice", Splice, &[Fd, Ptr, Fd, Ptr, Len, Flags(SPLICE_FLAGS)]),
    row(l::SYS_tee, "tee", Splice, &[Fd, Fd, Len, Flags(SPLICE_FLAGS)]),
    row(l::SYS_sendfile, "sendfile", Splice, &[Fd, Fd, Ptr, Len]),
    row(l::SYS_copy_file_range, "copy_file_range", Splice, &[Fd, Ptr, Fd, Ptr, Len, Int]),
    row(l::SYS_sendmmsg, "sendmmsg", Write, &[Fd, Ptr, Int]),
    // Descriptors.
    row(l::SYS_close, "close", Close, &[Fd]),
    row(l::SYS_dup, "dup", Dup, &[Fd]),
    row(l::SYS_dup2, "dup2", Dup, &[Fd, Fd]),
    row(l::SYS_dup3, "dup3", Dup, &[Fd, Fd, Flags(O_FLAGS)]),
    row(l::SYS_fcntl, "fcntl", Fcntl, &[Fd, Sym(FCNTL_CMDS), Varies]),
    row(l::SYS_ioctl, "ioctl", Ioctl, &[Fd, Sym(IOCTL_REQUESTS), Varies]),
    row(l::SYS_open, "open", Open, &[Path, OpenFlags]),
    row(l::SYS_openat, "openat", Open, &[Varies, Path, OpenFlags]),
    row(l::SYS_lseek, "lseek", Other, &[Fd, Long, Sym(SEEK_WHENCES)]),
    row(l::SYS_pipe, "pipe", Pipe, &[Ptr]),
    row(l::SYS_pipe2, "pipe2", Pipe, &[Ptr, Flags(O_FLAGS)]),
    // Readiness.
    row(l::SYS_poll, "poll", Poll, &[Ptr, Int, Timeout(Millis)]),
    row(l::SYS_ppoll, "ppoll", Poll, &[Ptr, Int, Timeout(Timespec), Ptr, Long]),
    row(l::SYS_select, "select", Select, &[Int, Ptr, Ptr, Ptr, Timeout(Timeval)]),
    row(l::SYS_pselect6, "pselect6", Select, &[Int, Ptr, Ptr, Ptr, Timeout(Timespec), Ptr]),
    row(l::SYS_epoll_create, "epoll_create", EpollCreate, &[Int]),
    row(l::SYS_epoll_create1, "epoll_create1", EpollCreate, &[Flags(EPOLL_CREATE_FLAGS)]),
    row(l::SYS_epoll_ctl, "epoll_ctl", EpollCtl, &[Fd, Sym(EPOLL_OPS), Fd, Ptr]),
    row(l::SYS_epoll_wait, "epoll_wait", EpollWait, &[Fd, Ptr, Int, Timeout(Millis)]),
    row(l::SYS_epoll_pwait, "epoll_pwait", EpollWait, &[Fd, Ptr, Int, Timeout(Millis), Ptr, Long]),
    row(l::SYS_epoll_pwait2, "epoll_pwait2", EpollWait, &[Fd, Ptr, Int, Timeout(Timespec), Ptr, Long]),
    row(l::SYS_epoll_ctl_old, "epoll_ctl_old", EpollOld, &[]),
    row(l::SYS_epoll_wait_old, "epoll_wait_old", EpollOld, &[]),
    // Time.
    row(l::SYS_nanosleep, "nanosleep", Sleep, &[Timeout(Timespec), Ptr]),
    row(l::SYS_clock_nanosleep, "clock_nanosleep", Sleep, &[Sym(CLOCKS), Flags(TIMER_FLAGS), Timeout(Timespec), Ptr]),
    row(l::SYS_sched_yield, "sched_yield", Yield, &[]),
    // Threads and processes.
    row(l::SYS_futex, "futex", Futex, &[Word, Varies, Int, Timeout(Timespec), Varies, Varies]),
    row(l::SYS_clone, "clone", Spawn, &[CloneFlags]),
    row(l::SYS_clone3, "clone3", Spawn, &[CloneFlags, Long]),
    row(l::SYS_fork, "fork", Spawn, &[]),
    row(l::SYS_vfork, "vfork", Spawn, &[]),
    row(l::SYS_execve, "execve", Exec, &[Path, Argv, Ptr]),
    row(l::SYS_execveat, "execveat", Exec, &[Fd, Path, Argv, Ptr]),
    row(l::SYS_wait4, "wait4", Reap, &[Pid, Ptr, Flags(WAIT_OPTIONS), Ptr]),
    row(l::SYS_waitid, "waitid", Reap, &[Sym(ID_TYPES), Pid, Ptr, Flags(WAITID_OPTIONS), Ptr]),
    row(l::SYS_exit, "exit", Exit, &[Int]),
    row(l::SYS_exit_group, "exit_group", Exit, &[Int]),
    row(l::SYS_getpid, "getpid", Identity, &[]),
    row(l::SYS_getppid, "getppid", Identity, &[]),
    row(l::SYS_gettid, "gettid", Identity, &[]),
    row(l::SYS_ptrace, "ptrace", Ptrace, &[Sym(PTRACE_REQUESTS), Pid]),
    // Signals.
    row(l::SYS_kill, "kill", Kill, &[Pid, SignalNr]),
    row(l::SYS_tgkill, "tgkill", Kill, &[Pid, Pid, SignalNr]),
    row(l::SYS_tkill, "tkill", Kill, &[Pid, SignalNr]),
    row(l::SYS_rt_sigaction, "rt_sigaction", Signal, &[SignalNr, Ptr, Ptr, Long]),
    row(l::SYS_rt_sigprocmask, "rt_sigprocmask", Signal, &[Sym(SIGPROCMASK_HOWS), Ptr, Ptr, Long]),
    row(l::SYS_pause, "pause", Signal, &[]),
];
