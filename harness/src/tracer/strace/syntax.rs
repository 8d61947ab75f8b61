//! strace's output syntax: one line of `strace -f -ttt -T` parsed into a
//! [`Line`], and printed back the way strace prints it.
//!
//! The parser knows strace's notation, not any syscall: values are numbers,
//! strings, symbols and flag sets, structs, arrays, fd and signal sets,
//! calls such as `htons(8080)`, `in => out` pairs and comments. What each
//! value means is [`super::convert`]'s business. Every failure is a
//! [`ParseError`] that says where and why; no input makes it panic.

use std::fmt::{self, Write as _};
use std::time::Duration;

/// Why a line could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse strace line {line:?}: {reason} (at byte {at})")]
pub struct ParseError {
    /// The line (cut to 200 characters).
    pub line: String,
    /// Byte offset where parsing stopped.
    pub at: usize,
    pub reason: String,
}

/// One line of strace output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The task id (`-f` prefixes every line with it).
    pub tid: Option<i32>,
    /// The absolute timestamp (`-ttt`: since the epoch; `-tt`: since midnight).
    pub time: Option<Duration>,
    pub body: Body,
}

/// What a line says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// A whole syscall on one line: `read(3, "hi", 10) = 2 <0.000010>`.
    Syscall(Syscall),
    /// The entry of a syscall another task's line interrupted:
    /// `read(3,  <unfinished ...>`. `text` is the argument text so far.
    /// `vanished`: the task died inside it (`<unfinished ...>) = ?`).
    Unfinished {
        name: String,
        text: String,
        vanished: bool,
    },
    /// The rest of an unfinished syscall: `<... read resumed>"hi", 10) = 2`.
    /// `text` is the argument text that completes the entry's.
    Resumed {
        name: String,
        text: String,
        result: Outcome,
    },
    /// `--- SIGCHLD {si_signo=SIGCHLD, ...} ---`
    Signal { signal: String, info: Option<Value> },
    /// `--- stopped by SIGSTOP ---`
    Stopped { signal: String },
    /// `+++ exited with 0 +++`
    Exited { code: i32 },
    /// `+++ killed by SIGKILL +++`, maybe `(core dumped)`.
    Killed { signal: String, core: bool },
    /// `+++ superseded by execve in pid 123 +++`: this thread exec'd and
    /// took over the thread group leader's id.
    Superseded { pid: i32 },
    /// strace's own remarks: `strace: Process 12 attached`, `[ Process
    /// PID=12 runs in 32 bit mode. ]`.
    Message(String),
}

/// A syscall with its arguments and result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Syscall {
    pub name: String,
    pub args: Vec<Field>,
    pub result: Outcome,
}

/// What follows `=`: the value (`None` for `?`), an errno name, the
/// parenthesized note (`(in [3])`, `(Resource temporarily unavailable)`),
/// and the duration (`-T`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub value: Option<Value>,
    pub errno: Option<String>,
    pub note: Option<String>,
    pub duration: Option<Duration>,
}

/// An argument or struct member, maybe named (`flags=CLONE_VM`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: Option<String>,
    pub value: Value,
}

impl Field {
    pub fn plain(value: Value) -> Field {
        Field { name: None, value }
    }
}

/// A value in strace's notation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A decimal number.
    Int(i128),
    /// `0x1f`.
    Hex(u64),
    /// `0644`: file modes.
    Oct(u64),
    /// `"..."`, unescaped; `more`: strace cut it (`"abc"...`).
    Str {
        bytes: Vec<u8>,
        more: bool,
    },
    Null,
    /// A constant's name: `AF_INET`, `SIGCHLD`, `FUTEX_BITSET_MATCH_ANY`.
    Sym(String),
    /// Flags joined by `|`: `O_RDWR|O_NONBLOCK`, `SA_RESTORER|0x4`.
    Or(Vec<Value>),
    /// `{a=1, b=2}` (members may be unnamed, or `...` when abbreviated).
    Struct(Vec<Field>),
    /// `[a, b]`.
    Array(Vec<Value>),
    /// `[3 4]` (fd sets, signal sets): at least two members.
    Set(Vec<Value>),
    /// `~[...]`: a set given by what it leaves out.
    Not(Box<Value>),
    /// `htons(8080)`, `inet_addr("127.0.0.1")`.
    Call {
        func: String,
        args: Vec<Value>,
    },
    /// `&sin6_addr`.
    Ref(String),
    /// `...`: more that strace did not print.
    Ellipsis,
    /// `[128 => 16]`: the value given, then the value the kernel wrote back.
    Changed(Box<Value>, Box<Value>),
    /// An expression kept as text: `WIFEXITED(s) && WEXITSTATUS(s) == 0`,
    /// `8192*1024`, `<... resuming interrupted poll ...>`.
    Expr(String),
    /// `3</dev/null>`, `4<socket:[1234]>` (`-y`).
    Fd {
        fd: i64,
        path: String,
    },
    /// A value followed by a comment: `0x7ffd /* 35 vars */`.
    Commented(Box<Value>, String),
    /// A value after a comment that names it: the bytes past the end of a
    /// struct strace knows, `/* bytes 88..95 */ "\x34\x12..."` in `clone3`.
    Labeled(String, Box<Value>),
}

impl Value {
    /// The number this value stands for, if it is a plain number.
    pub fn number(&self) -> Option<i128> {
        match self {
            Value::Int(v) => Some(*v),
            Value::Hex(v) | Value::Oct(v) => Some(i128::from(*v)),
            Value::Null => Some(0),
            Value::Fd { fd, .. } => Some(i128::from(*fd)),
            Value::Commented(v, _) | Value::Labeled(_, v) => v.number(),
            _ => None,
        }
    }
}

/// Parses one line (without its newline).
pub fn parse_line(line: &str) -> Result<Line, ParseError> {
    let mut p = Parser::new(line);
    let tid = p.tid();
    let time = p.timestamp()?;
    p.skip_spaces();
    let body = p.body()?;
    Ok(Line { tid, time, body })
}

/// Parses one line given as bytes: lines that are not UTF-8 are an error.
pub fn parse_line_bytes(line: &[u8]) -> Result<Line, ParseError> {
    match std::str::from_utf8(line) {
        Ok(s) => parse_line(s),
        Err(e) => Err(ParseError {
            line: cut(&String::from_utf8_lossy(line)),
            at: e.valid_up_to(),
            reason: "not UTF-8 text".into(),
        }),
    }
}

/// Parses argument text that may stop early: the entry part of an
/// unfinished call (`3, "abc", `). Returns the complete arguments.
pub fn parse_partial_args(text: &str) -> Vec<Field> {
    let mut p = Parser::new(text);
    let mut out = Vec::new();
    loop {
        p.skip_spaces();
        if p.at_end() {
            break;
        }
        match p.field() {
            Ok(f) => {
                p.skip_spaces();
                match p.peek() {
                    Some(b',') => {
                        p.pos += 1;
                        out.push(f);
                    }
                    None => {
                        out.push(f);
                        break;
                    }
                    _ => break,
                }
            }
            Err(_) => break,
        }
    }
    out
}

/// Parses the arguments of a call whose entry and exit came on two lines:
/// `text` is the entry's text followed by the resumed text, and must end
/// with `)` (the result comes separately).
pub fn parse_args(text: &str) -> Result<Vec<Field>, ParseError> {
    let mut p = Parser::new(text);
    let args = p.args()?;
    p.skip_spaces();
    if !p.at_end() {
        return Err(p.error("text after the closing parenthesis"));
    }
    Ok(args)
}

/// Parses a standalone value (`[3 4]`, `{tv_sec=1, tv_nsec=0}`).
pub fn parse_value(text: &str) -> Result<Value, ParseError> {
    let mut p = Parser::new(text);
    p.skip_spaces();
    let v = p.value()?;
    p.skip_spaces();
    if !p.at_end() {
        return Err(p.error("text after the value"));
    }
    Ok(v)
}

fn cut(s: &str) -> String {
    s.chars().take(200).collect()
}

struct Parser<'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
}

/// Nesting deeper than this is refused (no input can exhaust the stack).
const MAX_DEPTH: usize = 64;

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser {
            text,
            b: text.as_bytes(),
            pos: 0,
        }
    }

    fn error(&self, reason: &str) -> ParseError {
        ParseError {
            line: cut(self.text),
            at: self.pos,
            reason: reason.to_string(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn starts(&self, s: &str) -> bool {
        self.rest().starts_with(s)
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.starts(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, s: &str) -> Result<(), ParseError> {
        if self.eat(s) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {s:?}")))
        }
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn digits(&mut self) -> &'a str {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    fn ident(&mut self) -> &'a str {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    /// `12345 ` at the start of a line (or `[pid 12345] `).
    fn tid(&mut self) -> Option<i32> {
        let save = self.pos;
        if self.eat("[pid") {
            self.skip_spaces();
            let d = self.digits();
            if let (Ok(t), true) = (d.parse(), self.eat("]")) {
                self.skip_spaces();
                return Some(t);
            }
            self.pos = save;
            return None;
        }
        let d = self.digits();
        if !d.is_empty() && matches!(self.peek(), Some(b' ' | b'\t')) {
            // A number followed by a space is a tid unless it is the
            // timestamp itself (digits then '.' or ':').
            if let Ok(t) = d.parse() {
                self.skip_spaces();
                return Some(t);
            }
        }
        self.pos = save;
        None
    }

    /// `1795249991.073853` (`-ttt`) or `12:34:56.123456` (`-tt`, `-t`).
    fn timestamp(&mut self) -> Result<Option<Duration>, ParseError> {
        let save = self.pos;
        let first = self.digits();
        if first.is_empty() {
            return Ok(None);
        }
        let mut secs: u64 = match first.parse() {
            Ok(s) => s,
            Err(_) => return Err(self.error("timestamp out of range")),
        };
        if self.peek() == Some(b':') {
            let mut parts = vec![secs];
            while self.eat(":") {
                let d = self.digits();
                parts.push(d.parse().map_err(|_| self.error("bad clock time"))?);
            }
            if parts.len() != 3 {
                return Err(self.error("bad clock time"));
            }
            secs = parts[0]
                .saturating_mul(3600)
                .saturating_add(parts[1].saturating_mul(60))
                .saturating_add(parts[2]);
        }
        let mut nanos = 0u32;
        if self.eat(".") {
            let frac = self.digits();
            if frac.is_empty() {
                return Err(self.error("timestamp without fraction digits"));
            }
            let mut scaled = 0u64;
            for (i, c) in frac.bytes().take(9).enumerate() {
                scaled += u64::from(c - b'0') * 10u64.pow(8 - i as u32);
            }
            nanos = scaled as u32;
        }
        if !matches!(self.peek(), Some(b' ' | b'\t')) {
            // Not a timestamp (a line like `123` alone): let the body fail.
            self.pos = save;
            return Ok(None);
        }
        Ok(Some(Duration::new(secs, nanos)))
    }

    fn body(&mut self) -> Result<Body, ParseError> {
        if self.eat("+++ ") {
            return self.exit_line();
        }
        if self.eat("--- ") {
            return self.signal_line();
        }
        if self.starts("<... ") {
            return self.resumed();
        }
        if self.starts("strace: ") || self.starts("[ ") {
            return Ok(Body::Message(self.rest().to_string()));
        }
        self.syscall()
    }

    fn exit_line(&mut self) -> Result<Body, ParseError> {
        let body = if self.eat("exited with ") {
            let neg = self.eat("-");
            let d = self.digits();
            let code: i32 = d.parse().map_err(|_| self.error("bad exit code"))?;
            Body::Exited {
                code: if neg { -code } else { code },
            }
        } else if self.eat("killed by ") {
            let signal = self.ident().to_string();
            if signal.is_empty() {
                return Err(self.error("expected a signal name"));
            }
            self.skip_spaces();
            let core = self.eat("(core dumped)");
            Body::Killed { signal, core }
        } else if self.eat("superseded by execve in pid ") {
            let d = self.digits();
            Body::Superseded {
                pid: d.parse().map_err(|_| self.error("bad pid"))?,
            }
        } else {
            return Err(self.error("unknown +++ line"));
        };
        self.skip_spaces();
        self.expect("+++")?;
        self.end()?;
        Ok(body)
    }

    fn signal_line(&mut self) -> Result<Body, ParseError> {
        if self.eat("stopped by ") {
            let signal = self.ident().to_string();
            self.skip_spaces();
            self.expect("---")?;
            self.end()?;
            return Ok(Body::Stopped { signal });
        }
        let signal = self.ident().to_string();
        if !signal.starts_with("SIG") {
            return Err(self.error("expected a signal name"));
        }
        self.skip_spaces();
        let info = if self.peek() == Some(b'{') {
            Some(self.value()?)
        } else {
            None
        };
        self.skip_spaces();
        self.expect("---")?;
        self.end()?;
        Ok(Body::Signal { signal, info })
    }

    fn end(&mut self) -> Result<(), ParseError> {
        self.skip_spaces();
        if self.at_end() {
            Ok(())
        } else {
            Err(self.error("unexpected text at the end of the line"))
        }
    }

    fn syscall_name(&mut self) -> Result<String, ParseError> {
        let name = self.ident();
        if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
            return Err(self.error("expected a syscall name"));
        }
        Ok(name.to_string())
    }

    fn syscall(&mut self) -> Result<Body, ParseError> {
        let name = self.syscall_name()?;
        self.expect("(")?;
        let start = self.pos;
        // An unfinished line ends with `<unfinished ...>`: find it outside strings.
        if let Some(at) = find_unfinished(self.b, start) {
            let text = self.text[start..at].to_string();
            self.pos = at + UNFINISHED.len();
            let vanished = if self.eat(")") {
                self.skip_spaces();
                self.expect("=")?;
                self.skip_spaces();
                self.expect("?")?;
                true
            } else {
                false
            };
            self.end()?;
            return Ok(Body::Unfinished {
                name,
                text,
                vanished,
            });
        }
        let args = self.args()?;
        let result = self.outcome()?;
        Ok(Body::Syscall(Syscall { name, args, result }))
    }

    fn resumed(&mut self) -> Result<Body, ParseError> {
        self.expect("<... ")?;
        let name = self.syscall_name()?;
        self.expect(" resumed>")?;
        let start = self.pos;
        let close = scan_close(self.b, start).ok_or_else(|| {
            let mut e = self.error("no closing parenthesis after the resumed arguments");
            e.at = self.b.len();
            e
        })?;
        let text = self.text[start..close].to_string();
        self.pos = close + 1;
        let result = self.outcome()?;
        Ok(Body::Resumed { name, text, result })
    }

    /// Arguments up to and including the closing `)`.
    fn args(&mut self) -> Result<Vec<Field>, ParseError> {
        let mut out = Vec::new();
        self.skip_spaces();
        if self.eat(")") {
            return Ok(out);
        }
        loop {
            self.skip_spaces();
            out.push(self.field_at(1)?);
            self.skip_spaces();
            if self.eat(",") {
                continue;
            }
            if self.eat(")") {
                return Ok(out);
            }
            return Err(self.error("expected ',' or ')' after an argument"));
        }
    }

    /// ` = value [ERRNO] [(note)] [<duration>]`.
    fn outcome(&mut self) -> Result<Outcome, ParseError> {
        self.skip_spaces();
        self.expect("=")?;
        self.skip_spaces();
        let mut out = Outcome::default();
        if !self.eat("?") {
            out.value = Some(self.scalar_result()?);
        }
        self.skip_spaces();
        if matches!(self.peek(), Some(b'E')) {
            let name = self.ident();
            out.errno = Some(name.to_string());
            self.skip_spaces();
        }
        if self.peek() == Some(b'(') {
            let close = scan_close(self.b, self.pos + 1)
                .ok_or_else(|| self.error("unclosed '(' in the result"))?;
            out.note = Some(self.text[self.pos + 1..close].to_string());
            self.pos = close + 1;
            self.skip_spaces();
        }
        if self.eat("<unavailable>") {
            // strace could not read the result: the task died meanwhile.
            self.skip_spaces();
        } else if self.eat("<") {
            let secs = self.digits();
            let secs: u64 = secs.parse().map_err(|_| self.error("bad duration"))?;
            let mut nanos = 0u32;
            if self.eat(".") {
                let frac = self.digits();
                for (i, c) in frac.bytes().take(9).enumerate() {
                    nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
                }
            }
            self.expect(">")?;
            out.duration = Some(Duration::new(secs, nanos));
        }
        self.end()?;
        Ok(out)
    }

    /// A return value: a number (maybe `-1`), or a symbol.
    fn scalar_result(&mut self) -> Result<Value, ParseError> {
        if self.eat("-") {
            let d = self.digits();
            return d
                .parse::<i128>()
                .map(|v| Value::Int(-v))
                .map_err(|_| self.error("expected a number after '-'"));
        }
        self.primary(1)
    }

    fn field(&mut self) -> Result<Field, ParseError> {
        self.field_at(1)
    }

    /// `name=value` or `value`.
    fn field_at(&mut self, depth: usize) -> Result<Field, ParseError> {
        let save = self.pos;
        let word = self.ident();
        if !word.is_empty() && self.peek() == Some(b'=') && self.b.get(self.pos + 1) != Some(&b'=')
        {
            let name = word.to_string();
            self.pos += 1;
            let value = self.value_at(depth)?;
            return Ok(Field {
                name: Some(name),
                value,
            });
        }
        self.pos = save;
        Ok(Field::plain(self.value_at(depth)?))
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        self.value_at(1)
    }

    /// A full value: a primary, joined flags, `=> out`, an expression,
    /// and a trailing comment.
    fn value_at(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        if self.starts("/*") {
            let label = self.comment()?;
            self.skip_spaces();
            let v = self.value_at(depth + 1)?;
            return Ok(Value::Labeled(label, Box::new(v)));
        }
        let start = self.pos;
        let mut v = self.primary(depth)?;
        if self.peek() == Some(b'|') && self.b.get(self.pos + 1) != Some(&b'|') {
            let mut parts = vec![v];
            while self.peek() == Some(b'|') && self.b.get(self.pos + 1) != Some(&b'|') {
                self.pos += 1;
                parts.push(self.primary(depth)?);
            }
            v = Value::Or(parts);
        }
        if self.is_operator() {
            self.skip_expression();
            v = Value::Expr(self.text[start..self.pos].trim_end().to_string());
        }
        let save = self.pos;
        self.skip_spaces();
        if self.eat("=>") {
            self.skip_spaces();
            let out = self.value_at(depth + 1)?;
            v = Value::Changed(Box::new(v), Box::new(out));
        } else {
            self.pos = save;
        }
        let save = self.pos;
        self.skip_spaces();
        if self.starts("/*") {
            let comment = self.comment()?;
            v = Value::Commented(Box::new(v), comment);
        } else {
            self.pos = save;
        }
        Ok(v)
    }

    /// `/* text */`, at the parser's position: the text, trimmed.
    fn comment(&mut self) -> Result<String, ParseError> {
        self.expect("/*")?;
        let Some(end) = self.rest().find("*/") else {
            return Err(self.error("unclosed comment"));
        };
        let comment = self.rest()[..end].trim().to_string();
        self.pos += end + 2;
        Ok(comment)
    }

    /// Whether an infix operator follows (`&&`, `==`, `*`, `<<`, ...).
    fn is_operator(&self) -> bool {
        let r = self.rest();
        let r = r.trim_start_matches(' ');
        ["&&", "||", "==", "!=", "<<", ">>", "*", "+"]
            .iter()
            .any(|op| r.starts_with(op))
            && !r.starts_with("*/")
    }

    /// Skips the rest of an expression: up to `,` `)` `]` `}` at depth 0.
    fn skip_expression(&mut self) {
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match c {
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' if depth == 0 => break,
                b')' | b']' | b'}' => depth -= 1,
                b',' if depth == 0 => break,
                b'"' => {
                    if let Some(end) = skip_string(self.b, self.pos) {
                        self.pos = end;
                        continue;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
    }

    fn primary(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        match self.peek() {
            None => Err(self.error("expected a value, found the end")),
            Some(b'"') => self.string(),
            Some(b'@') if self.b.get(self.pos + 1) == Some(&b'"') => {
                // An abstract unix socket name: it starts with a NUL byte.
                self.pos += 1;
                match self.string()? {
                    Value::Str { mut bytes, more } => {
                        bytes.insert(0, 0);
                        Ok(Value::Str { bytes, more })
                    }
                    other => Ok(other),
                }
            }
            Some(b'{') => self.structure(depth),
            Some(b'[') => self.array(depth),
            Some(b'~') => {
                self.pos += 1;
                if self.peek() != Some(b'[') {
                    return Err(self.error("expected '[' after '~'"));
                }
                Ok(Value::Not(Box::new(self.array(depth + 1)?)))
            }
            Some(b'&') => {
                self.pos += 1;
                let name = self.ident();
                if name.is_empty() {
                    return Err(self.error("expected a name after '&'"));
                }
                Ok(Value::Ref(name.to_string()))
            }
            Some(b'<') if self.starts("<... ") => {
                // `restart_syscall(<... resuming interrupted poll ...>)`.
                let Some(end) = self.rest().find("...>") else {
                    return Err(self.error("unclosed '<...'"));
                };
                let text = self.rest()[..end + 4].to_string();
                self.pos += end + 4;
                Ok(Value::Expr(text))
            }
            Some(b'.') => {
                if self.eat("...") {
                    Ok(Value::Ellipsis)
                } else {
                    Err(self.error("unexpected '.'"))
                }
            }
            Some(b'-') => {
                self.pos += 1;
                let d = self.digits();
                d.parse::<i128>()
                    .map(|v| Value::Int(-v))
                    .map_err(|_| self.error("expected a number after '-'"))
            }
            Some(b'0'..=b'9') => self.number(),
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                let name = self.ident();
                if self.peek() == Some(b'(') {
                    self.pos += 1;
                    let mut args = Vec::new();
                    self.skip_spaces();
                    if !self.eat(")") {
                        loop {
                            self.skip_spaces();
                            args.push(self.value_at(depth + 1)?);
                            self.skip_spaces();
                            if self.eat(",") {
                                continue;
                            }
                            self.expect(")")?;
                            break;
                        }
                    }
                    return Ok(Value::Call {
                        func: name.to_string(),
                        args,
                    });
                }
                if name == "NULL" {
                    Ok(Value::Null)
                } else {
                    Ok(Value::Sym(name.to_string()))
                }
            }
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        if self.eat("0x") || self.eat("0X") {
            let start = self.pos;
            while matches!(self.peek(), Some(c) if c.is_ascii_hexdigit()) {
                self.pos += 1;
            }
            let v = u64::from_str_radix(&self.text[start..self.pos], 16)
                .map_err(|_| self.error("bad hex number"))?;
            return Ok(Value::Hex(v));
        }
        let d = self.digits();
        let v = if d.len() > 1 && d.starts_with('0') && d.bytes().all(|c| c < b'8') {
            Value::Oct(u64::from_str_radix(d, 8).map_err(|_| self.error("bad octal number"))?)
        } else {
            Value::Int(d.parse().map_err(|_| self.error("number out of range"))?)
        };
        if self.peek() == Some(b'<') {
            return self.fd_path(v);
        }
        Ok(v)
    }

    /// `3<...>`: an fd with what `-y` says it is.
    fn fd_path(&mut self, v: Value) -> Result<Value, ParseError> {
        let fd = v
            .number()
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(|| self.error("bad fd"))?;
        self.pos += 1;
        let start = self.pos;
        // The path ends at a '>' followed by what may follow a value.
        loop {
            match self.peek() {
                None => return Err(self.error("unclosed '<' after an fd")),
                Some(b'>')
                    if matches!(
                        self.b.get(self.pos + 1),
                        None | Some(b',' | b')' | b']' | b'}' | b' ')
                    ) =>
                {
                    break;
                }
                _ => self.pos += 1,
            }
        }
        let path = self.text[start..self.pos].to_string();
        self.pos += 1;
        Ok(Value::Fd { fd, path })
    }

    fn string(&mut self) -> Result<Value, ParseError> {
        self.expect("\"")?;
        let mut bytes = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            self.pos += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.error("unterminated escape"));
                    };
                    self.pos += 1;
                    match e {
                        b'n' => bytes.push(b'\n'),
                        b't' => bytes.push(b'\t'),
                        b'r' => bytes.push(b'\r'),
                        b'v' => bytes.push(0x0b),
                        b'f' => bytes.push(0x0c),
                        b'a' => bytes.push(0x07),
                        b'b' => bytes.push(0x08),
                        b'x' => {
                            let start = self.pos;
                            while self.pos < start + 2
                                && matches!(self.peek(), Some(c) if c.is_ascii_hexdigit())
                            {
                                self.pos += 1;
                            }
                            let v = u8::from_str_radix(&self.text[start..self.pos], 16)
                                .map_err(|_| self.error("bad \\x escape"))?;
                            bytes.push(v);
                        }
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            let mut n = 1;
                            while n < 3 && matches!(self.peek(), Some(b'0'..=b'7')) {
                                v = v * 8 + u32::from(self.b[self.pos] - b'0');
                                self.pos += 1;
                                n += 1;
                            }
                            bytes.push(
                                u8::try_from(v).map_err(|_| self.error("octal escape over 255"))?,
                            );
                        }
                        other => bytes.push(other),
                    }
                }
                other => bytes.push(other),
            }
        }
        let more = self.eat("...");
        Ok(Value::Str { bytes, more })
    }

    fn structure(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.expect("{")?;
        let mut fields = Vec::new();
        self.skip_spaces();
        if self.eat("}") {
            return Ok(Value::Struct(fields));
        }
        loop {
            self.skip_spaces();
            fields.push(self.field_at(depth + 1)?);
            self.skip_spaces();
            if self.eat(",") {
                continue;
            }
            self.expect("}")?;
            return Ok(Value::Struct(fields));
        }
    }

    /// `[a, b]` (array) or `[a b]` (set).
    fn array(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.expect("[")?;
        let mut items = Vec::new();
        let mut set = false;
        self.skip_spaces();
        if self.eat("]") {
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_spaces();
            items.push(self.value_at(depth + 1)?);
            if self.eat(",") {
                if set {
                    return Err(self.error("',' in a space-separated set"));
                }
                continue;
            }
            if self.eat("]") {
                break;
            }
            if self.peek() == Some(b' ') && items.len() == 1 || set {
                if !set && items.len() > 1 {
                    return Err(self.error("space in a comma-separated array"));
                }
                set = true;
                self.skip_spaces();
                if self.eat("]") {
                    break;
                }
                continue;
            }
            return Err(self.error("expected ',' or ']' in an array"));
        }
        Ok(if set && items.len() > 1 {
            Value::Set(items)
        } else {
            Value::Array(items)
        })
    }
}

const UNFINISHED: &str = "<unfinished ...>";

/// The offset of `<unfinished ...>` at nesting depth 0 outside strings.
fn find_unfinished(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = skip_string(b, i)?;
                continue;
            }
            b'<' if b[i..].starts_with(UNFINISHED.as_bytes()) => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The offset just past the string that starts at `at` (a `"`).
fn skip_string(b: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The offset of the `)` that closes a list starting at `from` (depth 0),
/// skipping strings, brackets and comments.
fn scan_close(b: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = skip_string(b, i)?;
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = b[i + 2..].windows(2).position(|w| w == b"*/")?;
                i += end + 4;
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' if depth == 0 => return Some(i),
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

// ---- printing, in strace's notation ----

/// Writes bytes as a strace string body (without quotes): printable ASCII
/// as is, the usual escapes, everything else as octal.
pub fn escape(bytes: &[u8], out: &mut String) {
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            0x0b => out.push_str("\\v"),
            0x0c => out.push_str("\\f"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                // Short octal unless a digit follows, as strace does.
                let next_digit = bytes.get(i + 1).is_some_and(|c| (b'0'..=b'7').contains(c));
                if next_digit {
                    let _ = write!(out, "\\{b:03o}");
                } else {
                    let _ = write!(out, "\\{b:o}");
                }
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Hex(v) => write!(f, "{v:#x}"),
            Value::Oct(v) => write!(f, "0{v:o}"),
            Value::Str { bytes, more } => {
                let mut s = String::new();
                escape(bytes, &mut s);
                write!(f, "\"{s}\"{}", if *more { "..." } else { "" })
            }
            Value::Null => f.write_str("NULL"),
            Value::Sym(s) => f.write_str(s),
            Value::Or(parts) => join(f, parts, "|"),
            Value::Struct(fields) => {
                f.write_str("{")?;
                join(f, fields, ", ")?;
                f.write_str("}")
            }
            Value::Array(items) => {
                f.write_str("[")?;
                join(f, items, ", ")?;
                f.write_str("]")
            }
            Value::Set(items) => {
                f.write_str("[")?;
                join(f, items, " ")?;
                f.write_str("]")
            }
            Value::Not(v) => write!(f, "~{v}"),
            Value::Call { func, args } => {
                write!(f, "{func}(")?;
                join(f, args, ", ")?;
                f.write_str(")")
            }
            Value::Ref(name) => write!(f, "&{name}"),
            Value::Ellipsis => f.write_str("..."),
            Value::Changed(a, b) => write!(f, "{a} => {b}"),
            Value::Expr(text) => f.write_str(text),
            Value::Fd { fd, path } => write!(f, "{fd}<{path}>"),
            Value::Commented(v, c) => write!(f, "{v} /* {c} */"),
            Value::Labeled(c, v) => write!(f, "/* {c} */ {v}"),
        }
    }
}

fn join<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T], sep: &str) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// Seconds with microseconds, as strace prints them, or nanoseconds when
/// the time has them (`-ttt` with `precision:ns`).
fn seconds(d: Duration) -> String {
    if d.subsec_nanos() % 1000 == 0 {
        format!("{}.{:06}", d.as_secs(), d.subsec_micros())
    } else {
        format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.name {
            write!(f, "{name}=")?;
        }
        write!(f, "{}", self.value)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("= ")?;
        match &self.value {
            Some(v) => write!(f, "{v}")?,
            None => f.write_str("?")?,
        }
        if let Some(e) = &self.errno {
            write!(f, " {e}")?;
        }
        if let Some(n) = &self.note {
            write!(f, " ({n})")?;
        }
        if let Some(d) = self.duration {
            write!(f, " <{}>", seconds(d))?;
        }
        Ok(())
    }
}

impl fmt::Display for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Syscall(s) => {
                write!(f, "{}(", s.name)?;
                join(f, &s.args, ", ")?;
                write!(f, ") {}", s.result)
            }
            Body::Unfinished {
                name,
                text,
                vanished,
            } => {
                write!(f, "{name}({text}{UNFINISHED}")?;
                if *vanished {
                    f.write_str(") = ?")?;
                }
                Ok(())
            }
            Body::Resumed { name, text, result } => {
                write!(f, "<... {name} resumed>{text}) {result}")
            }
            Body::Signal { signal, info } => match info {
                Some(i) => write!(f, "--- {signal} {i} ---"),
                None => write!(f, "--- {signal} ---"),
            },
            Body::Stopped { signal } => write!(f, "--- stopped by {signal} ---"),
            Body::Exited { code } => write!(f, "+++ exited with {code} +++"),
            Body::Killed { signal, core } => write!(
                f,
                "+++ killed by {signal}{} +++",
                if *core { " (core dumped)" } else { "" }
            ),
            Body::Superseded { pid } => write!(f, "+++ superseded by execve in pid {pid} +++"),
            Body::Message(m) => f.write_str(m),
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = self.tid {
            write!(f, "{t} ")?;
        }
        if let Some(ts) = self.time {
            write!(f, "{} ", seconds(ts))?;
        }
        write!(f, "{}", self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sys(line: &str) -> Syscall {
        match parse_line(line).expect("parses").body {
            Body::Syscall(s) => s,
            other => panic!("not a syscall: {other:?}"),
        }
    }

    #[test]
    fn a_whole_call_with_tid_time_and_duration() {
        let l = parse_line(
            "29363 1795249992.567803 bind(3, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = 0 <0.000097>",
        )
        .expect("parses");
        assert_eq!(l.tid, Some(29363));
        assert_eq!(l.time, Some(Duration::new(1795249992, 567_803_000)));
        let Body::Syscall(s) = l.body else {
            panic!("syscall")
        };
        assert_eq!(s.name, "bind");
        assert_eq!(s.args.len(), 3);
        assert_eq!(s.result.value, Some(Value::Int(0)));
        assert_eq!(s.result.duration, Some(Duration::from_micros(97)));
    }

    #[test]
    fn errors_notes_and_padding() {
        let s = sys(
            "read(4, 0x7ffd, 4096)            = -1 EAGAIN (Resource temporarily unavailable) <0.000010>",
        );
        assert_eq!(s.result.value, Some(Value::Int(-1)));
        assert_eq!(s.result.errno.as_deref(), Some("EAGAIN"));
        assert_eq!(
            s.result.note.as_deref(),
            Some("Resource temporarily unavailable")
        );
        let s = sys(
            "poll([{fd=3, events=POLLIN}], 1, -1) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)",
        );
        assert_eq!(s.result.value, None);
        assert_eq!(s.result.errno.as_deref(), Some("ERESTARTSYS"));
        let s = sys("fcntl(4, F_GETFL) = 0x2 (flags O_RDWR)");
        assert_eq!(s.result.value, Some(Value::Hex(2)));
        assert_eq!(s.result.note.as_deref(), Some("flags O_RDWR"));
    }

    #[test]
    fn sets_arrays_changes_and_expressions() {
        let s = sys("wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 12 <0.1>");
        assert_eq!(
            s.args[1].value,
            Value::Array(vec![Value::Struct(vec![Field::plain(Value::Expr(
                "WIFEXITED(s) && WEXITSTATUS(s) == 0".into()
            ))])])
        );
        let s = sys("accept4(3, {sa_family=AF_INET}, [128 => 16], SOCK_CLOEXEC) = 5");
        assert_eq!(
            s.args[2].value,
            Value::Array(vec![Value::Changed(
                Box::new(Value::Int(128)),
                Box::new(Value::Int(16))
            )])
        );
        let s = sys("rt_sigprocmask(SIG_BLOCK, ~[RTMIN RT_1], [], 8) = 0");
        assert_eq!(
            s.args[1].value,
            Value::Not(Box::new(Value::Set(vec![
                Value::Sym("RTMIN".into()),
                Value::Sym("RT_1".into())
            ])))
        );
        let s = sys("select(5, [3 4], NULL, NULL, NULL) = 1 (in [3])");
        assert_eq!(
            s.args[1].value,
            Value::Set(vec![Value::Int(3), Value::Int(4)])
        );
        let s = sys("execve(\"/bin/true\", [\"true\"], 0x7ffc /* 35 vars */) = 0");
        assert!(matches!(s.args[2].value, Value::Commented(_, ref c) if c == "35 vars"));
        // strace 6.1 prints the bytes of a larger struct than it knows
        // after a comment naming them.
        let s = sys(concat!(
            r#"clone3({flags=0, exit_signal=SIGCHLD, stack=NULL, stack_size=0, "#,
            r#"/* bytes 88..95 */ "\x34\x12\x00\x00\x00\x00\x00\x00"}, 96)"#,
            " = -1 E2BIG (Argument list too long)"
        ));
        let Value::Struct(fields) = &s.args[0].value else {
            panic!("{:?}", s.args[0]);
        };
        assert_eq!(
            fields[4].value,
            Value::Labeled(
                "bytes 88..95".into(),
                Box::new(Value::Str {
                    bytes: vec![0x34, 0x12, 0, 0, 0, 0, 0, 0],
                    more: false
                })
            )
        );
        let s = sys(
            "prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0",
        );
        assert!(
            matches!(&s.args[3].value, Value::Struct(f) if f[0].value == Value::Expr("8192*1024".into()))
        );
    }

    #[test]
    fn strings_unescape_and_mark_truncation() {
        let s = sys(r#"write(1, "a\"b\\c\n\0\377\x41"..., 100) = 100"#);
        assert_eq!(
            s.args[1].value,
            Value::Str {
                bytes: b"a\"b\\c\n\0\xffA".to_vec(),
                more: true
            }
        );
    }

    #[test]
    fn unfinished_and_resumed_halves() {
        let l =
            parse_line("29780 1795250139.535986 wait4(29821,  <unfinished ...>").expect("parses");
        assert_eq!(
            l.body,
            Body::Unfinished {
                name: "wait4".into(),
                text: "29821,  ".into(),
                vanished: false
            }
        );
        let l = parse_line("12 accept(3,  <unfinished ...>) = ?").expect("parses");
        assert!(matches!(l.body, Body::Unfinished { vanished: true, .. }));
        let l = parse_line(
            "29780 1795250139.537547 <... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 3}], 0, NULL) = 29821 <0.001546>",
        )
        .expect("parses");
        let Body::Resumed { name, text, result } = l.body else {
            panic!("resumed")
        };
        assert_eq!(name, "wait4");
        assert_eq!(text, "[{WIFEXITED(s) && WEXITSTATUS(s) == 3}], 0, NULL");
        assert_eq!(result.value, Some(Value::Int(29821)));
        let joined = parse_args("29821, [{WIFEXITED(s) && WEXITSTATUS(s) == 3}], 0, NULL)")
            .expect("joined args parse");
        assert_eq!(joined.len(), 4);
    }

    #[test]
    fn signals_and_exits() {
        let l = parse_line("9 1.000001 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=10, si_uid=0, si_status=3, si_utime=0, si_stime=0} ---").expect("parses");
        assert!(
            matches!(l.body, Body::Signal { ref signal, info: Some(_) } if signal == "SIGCHLD")
        );
        assert_eq!(
            parse_line("9 +++ killed by SIGABRT (core dumped) +++")
                .expect("parses")
                .body,
            Body::Killed {
                signal: "SIGABRT".into(),
                core: true
            }
        );
        assert_eq!(
            parse_line("9 +++ exited with 0 +++").expect("parses").body,
            Body::Exited { code: 0 }
        );
        assert_eq!(
            parse_line("9 --- stopped by SIGSTOP ---")
                .expect("parses")
                .body,
            Body::Stopped {
                signal: "SIGSTOP".into()
            }
        );
    }

    #[test]
    fn malformed_lines_are_errors_that_name_the_line() {
        for bad in [
            "",
            "12 read(3, \"abc",
            "12 read(3",
            "12 read(3) = ",
            "+++ exited with x +++",
            "12 1.5 <... read resumed>\"abc\"",
            "{{{{",
        ] {
            let e = parse_line(bad).expect_err(bad);
            assert!(e.to_string().contains("cannot parse strace line"), "{e}");
        }
        let deep = format!("f({}) = 0", "[".repeat(10_000));
        assert!(parse_line(&deep).is_err());
    }

    #[test]
    fn printing_round_trips() {
        for line in [
            "29363 1795249992.567803 bind(3, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = 0 <0.000097>",
            "12 1.000000 rt_sigprocmask(SIG_BLOCK, ~[RTMIN RT_1], [], 8) = 0",
            "12 clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0} => {parent_tid=[13]}, 88) = 13",
            "12 read(4, \"a\\0b\\377\"..., 4096) = -1 EAGAIN (Resource temporarily unavailable)",
        ] {
            let parsed = parse_line(line).expect("parses");
            let printed = parsed.to_string();
            assert_eq!(parse_line(&printed).expect("reparses"), parsed, "{printed}");
        }
    }
}
