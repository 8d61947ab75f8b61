//! What the kernel will say about a TCP socket that std and nix do not ask
//! (its queue lengths, `TCP_INFO`): the scenario's clients use it to know
//! that data has arrived without waiting on a clock.

use std::os::fd::{AsFd, AsRawFd};

/// Bytes in the socket's send queue not yet acknowledged by the peer
/// (`TIOCOUTQ`), 0 if the kernel will not say.
pub(crate) fn unsent(socket: impl AsFd) -> i32 {
    queued(socket, libc::TIOCOUTQ)
}

/// Bytes waiting in the socket's receive queue (`FIONREAD`), 0 if the
/// kernel will not say.
pub(crate) fn arrived(socket: impl AsFd) -> i32 {
    queued(socket, libc::FIONREAD)
}

/// A byte count one of the socket queue ioctls gives, 0 if it fails.
fn queued(socket: impl AsFd, request: libc::Ioctl) -> i32 {
    let mut bytes: libc::c_int = 0;
    // SAFETY: both requests write one c_int through the pointer, which
    // points at a live local; the fd is borrowed from an open socket.
    let r = unsafe { libc::ioctl(socket.as_fd().as_raw_fd(), request, &mut bytes) };
    if r == 0 { bytes } else { 0 }
}

/// Bytes the peer has acknowledged so far (`tcpi_bytes_acked` of
/// `TCP_INFO`), or `None` if the kernel will not say.
pub(crate) fn bytes_acked(socket: impl AsFd) -> Option<u64> {
    // SAFETY: an all-zero tcp_info is a valid value (plain integers).
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `info`, a live
    // local of that size, and the new length into `len`; the fd is
    // borrowed from an open socket.
    let r = unsafe {
        libc::getsockopt(
            socket.as_fd().as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (r == 0).then_some(info.tcpi_bytes_acked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn the_receive_queue_holds_what_was_not_read_yet() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut served, _) = listener.accept().unwrap();
        assert_eq!(arrived(&served), 0);
        client.write_all(b"hello").unwrap();
        // A blocking read of two bytes returns once the segment is here;
        // the other three wait in the queue.
        let mut got = [0u8; 2];
        served.read_exact(&mut got).unwrap();
        assert_eq!(arrived(&served), 3);
        assert!(
            bytes_acked(&client).is_some(),
            "TCP_INFO of a connected socket"
        );
    }
}
