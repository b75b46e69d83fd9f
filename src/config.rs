//! Command line -> `Config`. Every limit, timeout and switch of the server is here with
//! its default; `--help` is generated from the same table of flags, so the two agree.
use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::files::MimeOverrides;
use crate::request::{Limits, MAX_HEADERS_CAP};
use crate::timer::Timeouts;

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    pub root: PathBuf,
    /// Addresses to listen on (the port of each already filled in).
    pub addrs: Vec<SocketAddr>,
    pub limits: Limits,
    pub timeouts: Timeouts,
    /// Open connections per loop; None: derived from the descriptor limit at start.
    pub max_connections: Option<usize>,
    pub dotfiles: bool,
    pub listing: bool,
    pub spa: bool,
    pub mime: MimeOverrides,
    pub cache_control: Option<String>,
    /// Extra response header lines, validated: (name, value).
    pub headers: Vec<(String, String)>,
    pub access_log: Option<PathBuf>,
    pub drain_timeout: Duration,
    /// How long the open-file cache trusts an entry before re-checking it (0: always).
    pub cache_ttl: Duration,
    /// Independent loops, each with its own SO_REUSEPORT listener.
    pub workers: usize,
    pub stats: Option<Duration>,
    pub trace: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            root: PathBuf::from("htdocs"),
            addrs: vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DEFAULT_PORT)],
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            max_connections: None,
            dotfiles: false,
            listing: false,
            spa: false,
            mime: MimeOverrides::new(),
            cache_control: None,
            headers: Vec::new(),
            access_log: None,
            drain_timeout: Duration::from_secs(10),
            cache_ttl: Duration::from_secs(1),
            workers: 1,
            stats: None,
            trace: false,
        }
    }
}

pub const DEFAULT_PORT: u16 = 8000;

/// Listening addresses per loop (each listener takes a token below the waker's).
pub const MAX_BINDS: usize = 1024;

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Run(Box<Config>),
    Help,
    Version,
}

/// A command-line mistake: the message names the flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

impl From<lexopt::Error> for UsageError {
    fn from(e: lexopt::Error) -> Self {
        UsageError(e.to_string())
    }
}

/// The help text: every flag with its default.
pub const HELP: &str = "\
evserve: a static-file HTTP/1.1 server on one non-blocking event loop

Usage: evserve [ROOT] [OPTIONS]

  ROOT                      folder to serve [default: htdocs]

Listening:
  -p, --port PORT           port (0: any free port) [default: 8000]
  -b, --bind ADDR           address to listen on, IPv4 or IPv6, optionally with a port
                            (127.0.0.1, ::, [::1]:8080); repeatable [default: 0.0.0.0]
      --workers N|auto      independent event loops, each with its own SO_REUSEPORT
                            listener (auto: one per core) [default: 1]
      --max-connections N   open connections per loop [default: descriptor limit - 16 - 1/8]

Serving:
      --dotfiles            serve dotfiles and dot-folders (/.well-known/ is always served)
      --listing             list folders that have no index.html (HTML, or JSON on
                            Accept: application/json)
      --spa                 serve /index.html for missing paths without an extension
      --mime EXT=TYPE       media type for an extension; repeatable
      --cache-control VALUE Cache-Control on every successful response
      --header 'NAME: VALUE' extra header on every successful response; repeatable
      --cache-ttl S         trust cached file metadata (and small files' bytes) for S
                            seconds before re-checking; 0: re-check every request [default: 1]

Limits:
      --max-head-bytes N    request line + header fields (431/414 beyond) [default: 8192]
      --max-uri-bytes N     request target (414 beyond) [default: 4096]
      --max-headers N       header fields (431 beyond; at most 256) [default: 64]
      --max-body-bytes N    request body, read and discarded (413 beyond) [default: 65536]

Timeouts (seconds, fractions allowed):
      --request-timeout S   a request head must arrive within S of its first byte
                            (408 then close) [default: 10]
      --idle-timeout S      keep-alive wait for the next request [default: 15]
      --write-timeout S     a response making no progress is dropped [default: 30]
      --drain-timeout S     on SIGINT/SIGTERM, time given to responses in flight [default: 10]

Operating:
      --access-log PATH     Combined Log Format access log (- for stdout) [default: off]
      --stats S             print loop statistics every S seconds [default: off]
      --trace               log every readiness event and state change [default: off]
  -h, --help                this help
  -V, --version             the version
";

impl Config {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
        use lexopt::prelude::*;
        let mut c = Config::default();
        let mut port = DEFAULT_PORT;
        let mut binds: Vec<(IpAddr, Option<u16>)> = Vec::new();
        let mut root: Option<PathBuf> = None;
        let mut parser = lexopt::Parser::from_args(args);
        while let Some(arg) = parser.next()? {
            match arg {
                Short('h') | Long("help") => return Ok(Command::Help),
                Short('V') | Long("version") => return Ok(Command::Version),
                Short('p') | Long("port") => port = number(&mut parser, "--port")?,
                Short('b') | Long("bind") => binds.push(parse_bind(&text(&mut parser, "--bind")?)?),
                Long("workers") => {
                    let v = text(&mut parser, "--workers")?;
                    c.workers = if v == "auto" {
                        std::thread::available_parallelism().map_or(1, |n| n.get())
                    } else {
                        v.parse()
                            .ok()
                            .filter(|&n| (1..=1024).contains(&n))
                            .ok_or_else(|| UsageError(format!("--workers: expected 1 to 1024 or auto, got {v:?}")))?
                    };
                }
                Long("max-connections") => {
                    c.max_connections = Some(positive(&mut parser, "--max-connections")?);
                }
                Long("dotfiles") => c.dotfiles = true,
                Long("listing") => c.listing = true,
                Long("spa") => c.spa = true,
                Long("mime") => {
                    let v = text(&mut parser, "--mime")?;
                    let (ext, ty) =
                        v.split_once('=').filter(|(e, t)| !e.is_empty() && valid_media_type(t)).ok_or_else(|| {
                            UsageError(format!("--mime: expected EXT=TYPE like md=text/markdown, got {v:?}"))
                        })?;
                    c.mime.insert(ext.trim_start_matches('.').to_ascii_lowercase(), ty.to_string());
                }
                Long("cache-control") => {
                    let v = text(&mut parser, "--cache-control")?;
                    if !valid_field_value(&v) {
                        return Err(UsageError(format!("--cache-control: invalid header value {v:?}")));
                    }
                    c.cache_control = Some(v);
                }
                Long("header") => {
                    let v = text(&mut parser, "--header")?;
                    let (name, value) = v
                        .split_once(':')
                        .map(|(n, val)| (n, val.trim()))
                        .filter(|(n, val)| is_token(n) && valid_field_value(val))
                        .ok_or_else(|| UsageError(format!("--header: expected 'Name: value', got {v:?}")))?;
                    c.headers.push((name.to_string(), value.to_string()));
                }
                Long("max-head-bytes") => c.limits.max_head_bytes = buffer_size(&mut parser, "--max-head-bytes")?,
                Long("max-uri-bytes") => c.limits.max_uri_bytes = buffer_size(&mut parser, "--max-uri-bytes")?,
                Long("max-headers") => {
                    let n: usize = positive(&mut parser, "--max-headers")?;
                    if n > MAX_HEADERS_CAP {
                        return Err(UsageError(format!("--max-headers: at most {MAX_HEADERS_CAP}")));
                    }
                    c.limits.max_headers = n;
                }
                Long("max-body-bytes") => c.limits.max_body_bytes = number(&mut parser, "--max-body-bytes")?,
                Long("request-timeout") => c.timeouts.request = seconds(&mut parser, "--request-timeout")?,
                Long("idle-timeout") => c.timeouts.idle = seconds(&mut parser, "--idle-timeout")?,
                Long("write-timeout") => c.timeouts.write_stall = seconds(&mut parser, "--write-timeout")?,
                Long("drain-timeout") => c.drain_timeout = seconds(&mut parser, "--drain-timeout")?,
                Long("cache-ttl") => {
                    let v = text(&mut parser, "--cache-ttl")?;
                    c.cache_ttl = v
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && (0.0..=3600.0).contains(s))
                        .map(Duration::from_secs_f64)
                        .ok_or_else(|| {
                            UsageError(format!("--cache-ttl: expected seconds from 0 to 3600, got {v:?}"))
                        })?;
                }
                Long("access-log") => c.access_log = Some(parser.value()?.into()),
                Long("stats") => c.stats = Some(seconds(&mut parser, "--stats")?),
                Long("trace") => c.trace = true,
                Value(v) if root.is_none() => root = Some(v.into()),
                _ => return Err(arg.unexpected().into()),
            }
        }
        if let Some(root) = root {
            c.root = root;
        }
        if binds.len() > MAX_BINDS {
            return Err(UsageError(format!("--bind: at most {MAX_BINDS} addresses")));
        }
        if binds.is_empty() {
            binds.push((IpAddr::V4(Ipv4Addr::UNSPECIFIED), None));
        }
        c.addrs = binds.into_iter().map(|(ip, p)| SocketAddr::new(ip, p.unwrap_or(port))).collect();
        Ok(Command::Run(Box::new(c)))
    }
}

fn text(parser: &mut lexopt::Parser, flag: &str) -> Result<String, UsageError> {
    parser.value()?.into_string().map_err(|v| UsageError(format!("{flag}: not valid UTF-8: {v:?}")))
}

fn number<T: std::str::FromStr>(parser: &mut lexopt::Parser, flag: &str) -> Result<T, UsageError> {
    let v = text(parser, flag)?;
    v.parse().map_err(|_| UsageError(format!("{flag}: expected a number, got {v:?}")))
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(
    parser: &mut lexopt::Parser,
    flag: &str,
) -> Result<T, UsageError> {
    let n: T = number(parser, flag)?;
    if n <= T::default() {
        return Err(UsageError(format!("{flag}: must be greater than 0")));
    }
    Ok(n)
}

/// A byte limit that sizes a per-connection buffer: bounded, so memory stays bounded.
fn buffer_size(parser: &mut lexopt::Parser, flag: &str) -> Result<usize, UsageError> {
    let n: usize = positive(parser, flag)?;
    if n > MAX_BUFFER_LIMIT {
        return Err(UsageError(format!("{flag}: at most {MAX_BUFFER_LIMIT} bytes")));
    }
    Ok(n)
}

/// The largest `--max-head-bytes` / `--max-uri-bytes` accepted.
pub const MAX_BUFFER_LIMIT: usize = 1024 * 1024;

fn seconds(parser: &mut lexopt::Parser, flag: &str) -> Result<Duration, UsageError> {
    let v = text(parser, flag)?;
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| UsageError(format!("{flag}: expected seconds between 0 and 86400, got {v:?}")))
}

/// `1.2.3.4`, `::1`, `[::1]`, `1.2.3.4:80` or `[::1]:80`.
fn parse_bind(v: &str) -> Result<(IpAddr, Option<u16>), UsageError> {
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    if let Ok(addr) = v.parse::<SocketAddr>() {
        return Ok((addr.ip(), Some(addr.port())));
    }
    if let Some(inner) = v.strip_prefix('[').and_then(|s| s.strip_suffix(']'))
        && let Ok(ip) = inner.parse::<IpAddr>()
    {
        return Ok((ip, None));
    }
    Err(UsageError(format!("--bind: expected an IP address like 127.0.0.1 or ::1, got {v:?}")))
}

/// RFC 9110 token characters (field names).
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Visible ASCII and spaces only: no CR, LF or other controls can reach a header line.
fn valid_field_value(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
}

fn valid_media_type(t: &str) -> bool {
    t.split_once('/').is_some_and(|(a, b)| is_token(a) && is_token(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, UsageError> {
        match Config::parse(args.iter().map(OsString::from))? {
            Command::Run(c) => Ok(*c),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.root, PathBuf::from("htdocs"));
        assert_eq!(c.addrs, vec!["0.0.0.0:8000".parse().unwrap()]);
        assert_eq!(c.workers, 1);
        assert_eq!(c.timeouts.request, Duration::from_secs(10));
    }

    #[test]
    fn flags() {
        let c = parse(&[
            "site",
            "--port",
            "0",
            "--bind",
            "::1",
            "-b",
            "127.0.0.1:9000",
            "--mime",
            ".MD=text/markdown",
            "--header",
            "X-A: b c",
            "--idle-timeout",
            "0.5",
            "--listing",
            "--workers",
            "2",
        ])
        .unwrap();
        assert_eq!(c.root, PathBuf::from("site"));
        assert_eq!(c.addrs, vec!["[::1]:0".parse().unwrap(), "127.0.0.1:9000".parse().unwrap()]);
        assert_eq!(c.mime.get("md").map(String::as_str), Some("text/markdown"));
        assert_eq!(c.headers, vec![("X-A".to_string(), "b c".to_string())]);
        assert_eq!(c.timeouts.idle, Duration::from_millis(500));
        assert!(c.listing);
        assert_eq!(c.workers, 2);
    }

    #[test]
    fn mistakes_name_the_flag() {
        for (args, flag) in [
            (&["--port", "x"][..], "--port"),
            (&["--port", "70000"][..], "--port"),
            (&["--bind", "localhost:"][..], "--bind"),
            (&["--header", "Bad Name: x"][..], "--header"),
            (&["--header", "X: a\r\nY: b"][..], "--header"),
            (&["--mime", "md"][..], "--mime"),
            (&["--idle-timeout", "-1"][..], "--idle-timeout"),
            (&["--max-headers", "1000"][..], "--max-headers"),
            (&["--workers", "0"][..], "--workers"),
            (&["--max-head-bytes", "18446744073709551615"][..], "--max-head-bytes"),
        ] {
            let e = parse(args).unwrap_err();
            assert!(e.0.contains(flag), "{e} should name {flag}");
        }
        assert!(parse(&["a", "b"]).is_err());
        assert!(parse(&["--nope"]).is_err());
    }
}
