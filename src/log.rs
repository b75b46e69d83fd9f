//! The access log in Combined Log Format. Lines are appended to a buffer as responses are
//! planned and written out at most once per loop turn (one `write` for many requests);
//! a log that cannot be written is reported once and then dropped, never per request.
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where log lines go.
#[derive(Debug)]
enum Sink {
    Stdout,
    File(File),
}

/// Buffered Combined Log Format writer.
#[derive(Debug)]
pub struct AccessLog {
    sink: Sink,
    buf: Vec<u8>,
    /// `[10/Oct/2000:13:55:36 +0000]`, re-rendered when the second changes.
    stamp: String,
    stamp_second: u64,
    /// Set after the first failed write: the error was reported, stop trying.
    broken: bool,
}

/// A line waiting for its byte count: what comes before it, and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    head: Vec<u8>,
    tail: Vec<u8>,
}

/// One response, as the log sees it.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub peer: Option<SocketAddr>,
    /// The request line (`GET / HTTP/1.1`), or None when the request did not parse.
    pub method: Option<&'a str>,
    pub target: &'a str,
    pub minor_version: u8,
    pub status: u16,
    pub referer: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
}

impl AccessLog {
    /// `-` is standard output; anything else a file opened for appending.
    pub fn open(path: &Path) -> io::Result<AccessLog> {
        let sink = if path == Path::new("-") {
            Sink::Stdout
        } else {
            Sink::File(OpenOptions::new().create(true).append(true).open(path)?)
        };
        Ok(AccessLog {
            sink,
            buf: Vec::with_capacity(64 * 1024),
            stamp: String::new(),
            stamp_second: u64::MAX,
            broken: false,
        })
    }

    /// Renders the line for `r` except the byte count, which is known only once the
    /// response has been sent (or abandoned): `%b` is what really left, as in nginx.
    pub fn begin(&mut self, r: &Record, now: SystemTime) -> Pending {
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.stamp_second {
            self.stamp_second = second;
            self.stamp = clf_time(second);
        }
        let mut head = Vec::with_capacity(128);
        match r.peer {
            Some(p) => head.extend_from_slice(p.ip().to_canonical().to_string().as_bytes()),
            None => head.push(b'-'),
        }
        head.extend_from_slice(b" - - ");
        head.extend_from_slice(self.stamp.as_bytes());
        head.extend_from_slice(b" \"");
        if let Some(method) = r.method {
            escape_into(&mut head, method.as_bytes());
            head.push(b' ');
            escape_into(&mut head, r.target.as_bytes());
            head.extend_from_slice(if r.minor_version == 0 { b" HTTP/1.0" } else { b" HTTP/1.1" });
        } else {
            head.push(b'-');
        }
        head.extend_from_slice(format!("\" {} ", r.status).as_bytes());
        let mut tail = Vec::with_capacity(64);
        for field in [r.referer, r.user_agent] {
            tail.extend_from_slice(b" \"");
            match field {
                Some(v) => escape_into(&mut tail, v),
                None => tail.push(b'-'),
            }
            tail.push(b'"');
        }
        tail.push(b'\n');
        Pending { head, tail }
    }

    /// Buffers the finished line with the body bytes actually sent.
    pub fn finish(&mut self, line: Pending, body_bytes: u64) {
        if self.broken {
            return;
        }
        self.buf.extend_from_slice(&line.head);
        if body_bytes == 0 {
            self.buf.push(b'-');
        } else {
            self.buf.extend_from_slice(body_bytes.to_string().as_bytes());
        }
        self.buf.extend_from_slice(&line.tail);
    }

    /// Writes what is buffered; called once per loop turn and at shutdown. Returns the
    /// error the first time writing fails (the caller reports it once).
    pub fn flush(&mut self) -> Option<io::Error> {
        if self.buf.is_empty() || self.broken {
            return None;
        }
        let result = match &mut self.sink {
            Sink::Stdout => io::stdout().lock().write_all(&self.buf),
            Sink::File(f) => f.write_all(&self.buf),
        };
        self.buf.clear();
        match result {
            Ok(()) => None,
            Err(e) => {
                self.broken = true;
                Some(e)
            }
        }
    }
}

/// Escapes `"`, `\` and anything not printable ASCII as `\xHH` (as nginx does), so a
/// field can never break the line or the quoting.
fn escape_into(out: &mut Vec<u8>, v: &[u8]) {
    for &c in v {
        if c == b'"' || c == b'\\' || !(0x20..0x7f).contains(&c) {
            out.extend_from_slice(format!("\\x{c:02X}").as_bytes());
        } else {
            out.push(c);
        }
    }
}

/// `[dd/Mon/yyyy:HH:MM:SS +0000]` for a Unix time, in UTC.
pub fn clf_time(unix_seconds: u64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = (unix_seconds / 86_400) as i64;
    let secs = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "[{day:02}/{}/{year:04}:{:02}:{:02}:{:02} +0000]",
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 -> (year, month 1-12, day 1-31) in the proleptic Gregorian
/// calendar (the well-known era-based conversion).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(clf_time(0), "[01/Jan/1970:00:00:00 +0000]");
        assert_eq!(clf_time(971_185_736), "[10/Oct/2000:13:48:56 +0000]");
        assert_eq!(clf_time(951_782_400), "[29/Feb/2000:00:00:00 +0000]");
        assert_eq!(clf_time(4_102_444_799), "[31/Dec/2099:23:59:59 +0000]");
    }

    #[test]
    fn hostile_fields_are_escaped() {
        let mut out = Vec::new();
        escape_into(&mut out, b"a\"b\\c\n\xff");
        assert_eq!(out, b"a\\x22b\\x5Cc\\x0A\\xFF");
    }
}
