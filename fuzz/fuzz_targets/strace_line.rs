//! The line parser must never panic, and a line it accepts must read back
//! the same after printing: `parse(print(parse(x))) == parse(x)`.

#![no_main]

use iolab::tracer::strace::syntax::{parse_line, parse_line_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = parse_line_bytes(data) else {
        return;
    };
    let printed = line.to_string();
    let reparsed = match parse_line(&printed) {
        Ok(l) => l,
        Err(e) => panic!(
            "printed line does not parse\n input: {:?}\n printed: {printed:?}\n error: {e}",
            String::from_utf8_lossy(data)
        ),
    };
    assert_eq!(
        reparsed,
        line,
        "printed line parses differently\n input: {:?}\n printed: {printed:?}",
        String::from_utf8_lossy(data)
    );
});
