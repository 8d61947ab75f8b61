//! The stream decoder must never panic: arbitrary bytes, cut at an arbitrary
//! point into two `feed` calls with a `flush_partial` between them (a line
//! still being written when the decoder looks), then `finish`.
//!
//! The first input byte picks the cut; the rest is the strace output.

#![no_main]

use iolab::tracer::strace::Decoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, log)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(log.len());
    let (head, tail) = log.split_at(cut);
    let mut decoder = Decoder::new(None);
    let mut out = Vec::new();
    if decoder.feed(head, &mut out).is_err() {
        return;
    }
    decoder.flush_partial(&mut out);
    if decoder.feed(tail, &mut out).is_err() {
        return;
    }
    let _ = decoder.finish(&mut out);
});
