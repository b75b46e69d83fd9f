//! Command line, `EVSERVE_*` variables and config file -> `Config`. Every flag is one row
//! of `FLAGS`: its name, value, default, help text and the function that validates and
//! stores it. The parser, the variables, the config file's keys (`keys`, in the syntax
//! `file` reads), the defaults of `Config::default()`, `--help` and the README's flag list
//! all come from that table, so they cannot drift apart.
pub mod file;
mod keys;
use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::http::compressible::MAX_SIZE_CEILING;
use crate::http::files::MimeOverrides;
use crate::http::forwarded::Cidr;
pub use crate::http::forwarded::TrustedHeader;
use crate::http1::request::{Limits, MAX_HEADERS_CAP};
pub use crate::log::LogFormat;
pub use crate::net::activation::MAX_BINDS;
use crate::site::{CompressOptions, PathRule, SiteOptions};
use crate::util::glob::Glob;
use crate::util::timer::Timeouts;
use keys::ConfigFile;

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    pub root: PathBuf,
    /// Addresses to listen on (the port of each already filled in).
    pub addrs: Vec<SocketAddr>,
    /// Unix-domain stream sockets to listen on (`--bind unix:PATH`).
    pub unix_sockets: Vec<PathBuf>,
    /// The mode of each Unix socket file, set before it listens.
    pub unix_mode: u32,
    /// `--bind` or `--port` was given (flag or variable): socket activation says it ignores them.
    pub listen_given: bool,
    /// Every connection starts with a PROXY protocol header that names the client.
    pub proxy_protocol: bool,
    /// Peers whose `trusted_header` names the client.
    pub trusted_proxies: Vec<Cidr>,
    pub trusted_header: TrustedHeader,
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
    /// `--cache-control-for` and `--header-for`, in the order given.
    pub path_rules: Vec<PathRule>,
    pub access_log: Option<PathBuf>,
    pub log_format: LogFormat,
    pub drain_timeout: Duration,
    /// On the first stop signal, keep serving this long (`/readyz` says 503) before draining.
    pub shutdown_delay: Duration,
    /// The admin listener (`/metrics`, `/healthz`, `/readyz`), off by default.
    pub admin: Option<SocketAddr>,
    /// How long the open-file cache trusts an entry before re-checking it (0: always).
    pub cache_ttl: Duration,
    /// Independent loops, each with its own SO_REUSEPORT listener.
    pub workers: usize,
    /// Threads per loop for work that may wait on a disk (0: on the loop).
    pub io_threads: usize,
    pub stats: Option<Duration>,
    pub trace: bool,
    /// Switch to this user (and `group`, or the user's own) once the ports are bound.
    pub user: Option<String>,
    pub group: Option<String>,
    /// `--tls-cert` and `--tls-key`: with both, every TCP listener speaks HTTPS.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Session resumption by tickets (off with `--tls-no-resumption`).
    pub tls_resumption: bool,
    /// HTTP/2: `h2` offered by ALPN on TLS listeners, and h2c with prior knowledge on plain ones.
    pub http2: bool,
    /// Compression on the fly (`--compress*`); `background` is set from `io_threads`.
    pub compress: CompressOptions,
    /// A plain listener that answers every request with a 308 to `https://`.
    pub redirect_http: Option<SocketAddr>,
    /// The `--config` file the settings were read from, if any.
    pub config_file: Option<PathBuf>,
}

impl Default for Config {
    /// The defaults are the table's: each flag's default text goes through the same
    /// function as a value given on the command line.
    fn default() -> Self {
        let mut draft = Draft::new();
        draft.apply_defaults().expect("every default in FLAGS is valid");
        draft.finish()
    }
}

pub const DEFAULT_PORT: u16 = 8000;

/// `--redirect-http` without a port listens on the port `http://` URLs default to.
pub const REDIRECT_DEFAULT_PORT: u16 = 80;

/// `--admin` without a port listens on this one.
pub const ADMIN_DEFAULT_PORT: u16 = 9090;

/// The largest `--max-head-bytes` / `--max-uri-bytes` accepted.
pub const MAX_BUFFER_LIMIT: usize = 1024 * 1024;

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

/// The groups `--help` shows, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Listening,
    Tls,
    Serving,
    Limits,
    Timeouts,
    Operating,
}

impl Section {
    pub const ALL: [Section; 6] =
        [Section::Listening, Section::Tls, Section::Serving, Section::Limits, Section::Timeouts, Section::Operating];

    pub fn title(self) -> &'static str {
        match self {
            Section::Listening => "Listening",
            Section::Tls => "TLS",
            Section::Serving => "Serving",
            Section::Limits => "Limits",
            Section::Timeouts => "Timeouts (seconds, fractions allowed)",
            Section::Operating => "Operating",
        }
    }
}

/// What a flag does when it is given.
#[derive(Clone, Copy)]
pub enum Action {
    /// Takes a value: validate it and store it in the draft (the error names no flag;
    /// the parser adds it).
    Value(fn(&mut Draft, OsString) -> Result<(), String>),
    /// Takes two values (`--header-for GLOB 'NAME: VALUE'`); otherwise as `Value`.
    Pair(fn(&mut Draft, OsString, OsString) -> Result<(), String>),
    /// A switch without a value.
    Switch(fn(&mut Draft)),
    Help,
    Version,
}

/// One command-line flag, everything about it in one place.
#[derive(Clone, Copy)]
pub struct Flag {
    /// The long name without dashes: `--port` is `port`.
    pub long: &'static str,
    pub short: Option<char>,
    /// The value's placeholder in `--help` (`PORT`); None for a switch.
    pub value: Option<&'static str>,
    /// Help text; `\n` starts a continuation line.
    pub help: &'static str,
    /// Applied before the command line (and shown as `[default: ...]`): None when the
    /// flag is off by default, or its default is described in `help` instead.
    pub default: Option<&'static str>,
    /// Shown as `[default: ...]` when there is no `default` to apply (`off`, a formula).
    pub default_text: Option<&'static str>,
    /// Each use adds a value (`--header`, `--bind`); in a config file, an array.
    pub repeatable: bool,
    pub section: Section,
    pub action: Action,
}

impl Flag {
    /// Whether the flag takes one value or two (rather than being a switch).
    pub fn takes_values(&self) -> bool {
        matches!(self.action, Action::Value(_) | Action::Pair(_))
    }
}

impl fmt::Debug for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--{}", self.long)
    }
}

/// Every flag, in `--help` order.
pub static FLAGS: &[Flag] = &[
    Flag {
        long: "port",
        short: Some('p'),
        value: Some("PORT"),
        help: "port (0: any free port)",
        default: Some("8000"),
        default_text: None,
        repeatable: false,
        section: Section::Listening,
        action: Action::Value(|d, v| {
            d.port = number(v)?;
            d.config.listen_given = true;
            Ok(())
        }),
    },
    Flag {
        long: "bind",
        short: Some('b'),
        value: Some("ADDR"),
        help: "address to listen on, IPv4 or IPv6, optionally with a port\n(127.0.0.1, ::, [::1]:8080), or a Unix socket (unix:/run/ev.sock);\nrepeatable; ignored under systemd socket activation",
        default: None,
        default_text: Some("0.0.0.0"),
        repeatable: true,
        section: Section::Listening,
        action: Action::Value(|d, v| {
            if d.binds.len() + d.config.unix_sockets.len() == MAX_BINDS {
                return Err(format!("at most {MAX_BINDS} addresses"));
            }
            let v = text(v)?;
            match v.strip_prefix("unix:") {
                Some("") => return Err("unix: needs a path, like unix:/run/evserve.sock".into()),
                Some(path) => d.config.unix_sockets.push(PathBuf::from(path)),
                None => d.binds.push(parse_bind(&v)?),
            }
            d.config.listen_given = true;
            Ok(())
        }),
    },
    Flag {
        long: "workers",
        short: None,
        value: Some("N|auto"),
        help: "independent event loops, each with its own SO_REUSEPORT\nlistener (auto: one per core)",
        default: Some("1"),
        default_text: None,
        repeatable: false,
        section: Section::Listening,
        action: Action::Value(|d, v| {
            let v = text(v)?;
            d.config.workers = if v == "auto" {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            } else {
                v.parse()
                    .ok()
                    .filter(|n| (1..=1024).contains(n))
                    .ok_or(format!("expected 1 to 1024 or auto, got {v:?}"))?
            };
            Ok(())
        }),
    },
    Flag {
        long: "io-threads",
        short: None,
        value: Some("N"),
        help: "threads per loop for the work that may wait on a disk (opens, stats,\nreads that miss the page cache, listings), so the loop never\ndoes; 0: that work runs on the loop",
        default: Some("32"),
        default_text: None,
        repeatable: false,
        section: Section::Listening,
        action: Action::Value(|d, v| {
            d.config.io_threads = number(v)?;
            if d.config.io_threads > 1024 {
                return Err(format!("at most 1024, got {}", d.config.io_threads));
            }
            Ok(())
        }),
    },
    Flag {
        long: "max-connections",
        short: None,
        value: Some("N"),
        help: "open connections per loop",
        default: None,
        default_text: Some("descriptor limit - 16 - 1/8"),
        repeatable: false,
        section: Section::Listening,
        action: Action::Value(|d, v| {
            d.config.max_connections = Some(positive(v)?);
            Ok(())
        }),
    },
    Flag {
        long: "unix-mode",
        short: None,
        value: Some("OCTAL"),
        help: "file mode of the --bind unix: sockets (who may connect)",
        default: Some("0660"),
        default_text: None,
        repeatable: false,
        section: Section::Listening,
        action: Action::Value(|d, v| {
            let v = text(v)?;
            d.config.unix_mode = u32::from_str_radix(&v, 8)
                .ok()
                .filter(|m| *m <= 0o777 && !v.starts_with('+'))
                .ok_or(format!("expected an octal mode like 0660, got {v:?}"))?;
            Ok(())
        }),
    },
    Flag {
        long: "proxy-protocol",
        short: None,
        value: None,
        help: "every connection starts with a PROXY protocol v1 or v2 header\n(HAProxy send-proxy, AWS NLB); its source is the client",
        default: None,
        default_text: None,
        repeatable: false,
        section: Section::Listening,
        action: Action::Switch(|d| d.config.proxy_protocol = true),
    },
    Flag {
        long: "trusted-proxy",
        short: None,
        value: Some("CIDR"),
        help: "a proxy whose --trusted-header names the client in the access\nlog (10.0.0.0/8, ::1); repeatable",
        default: None,
        default_text: None,
        repeatable: true,
        section: Section::Listening,
        action: Action::Value(|d, v| {
            d.config.trusted_proxies.push(text(v)?.parse::<Cidr>().map_err(|e| e.to_string())?);
            Ok(())
        }),
    },
    Flag {
        long: "trusted-header",
        short: None,
        value: Some("NAME"),
        help: "the header trusted proxies write: x-forwarded-for or forwarded\n(the other one is ignored: it is the client's own claim)",
        default: Some("x-forwarded-for"),
        default_text: None,
        repeatable: false,
        section: Section::Listening,
        action: Action::Value(|d, v| {
            d.config.trusted_header = match text(v)?.to_ascii_lowercase().as_str() {
                "x-forwarded-for" => TrustedHeader::XForwardedFor,
                "forwarded" => TrustedHeader::Forwarded,
                other => return Err(format!("expected x-forwarded-for or forwarded, got {other:?}")),
            };
            Ok(())
        }),
    },
    Flag {
        long: "tls-cert",
        short: None,
        value: Some("FILE"),
        help: "PEM certificate chain, leaf first; with --tls-key every TCP\nlistener speaks HTTPS (TLS 1.2/1.3, ALPN h2 and http/1.1);\nreloaded on SIGHUP",
        default: None,
        default_text: Some("off"),
        repeatable: false,
        section: Section::Tls,
        action: Action::Value(|d, v| {
            d.config.tls_cert = Some(v.into());
            Ok(())
        }),
    },
    Flag {
        long: "tls-key",
        short: None,
        value: Some("FILE"),
        help: "PEM private key of --tls-cert (PKCS#8, SEC1 or RSA)",
        default: None,
        default_text: None,
        repeatable: false,
        section: Section::Tls,
        action: Action::Value(|d, v| {
            d.config.tls_key = Some(v.into());
            Ok(())
        }),
    },
    Flag {
        long: "tls-no-resumption",
        short: None,
        value: None,
        help: "no session resumption (by default tickets are issued, their key\nrotating every 6 hours)",
        default: None,
        default_text: None,
        repeatable: false,
        section: Section::Tls,
        action: Action::Switch(|d| d.config.tls_resumption = false),
    },
    Flag {
        long: "http2",
        short: None,
        value: Some("on|off"),
        help: "HTTP/2: ALPN offers h2 before http/1.1 on TLS listeners, and a\nplain connection that opens with the HTTP/2 preface speaks h2c\n(prior knowledge; no Upgrade: h2c)",
        default: Some("on"),
        default_text: None,
        repeatable: false,
        section: Section::Tls,
        action: Action::Value(|d, v| {
            d.config.http2 = match text(v)?.as_str() {
                "on" => true,
                "off" => false,
                other => return Err(format!("expected on or off, got {other:?}")),
            };
            Ok(())
        }),
    },
    Flag {
        long: "redirect-http",
        short: None,
        value: Some("ADDR"),
        help: "also listen for plain HTTP on ADDR (an IP, or IP:port; port 80\nif none) and answer every request there with a 308 to the\nsame path on https://",
        default: None,
        default_text: Some("off"),
        repeatable: false,
        section: Section::Tls,
        action: Action::Value(|d, v| {
            let (ip, port) = parse_bind(&text(v)?)?;
            d.config.redirect_http = Some(SocketAddr::new(ip, port.unwrap_or(REDIRECT_DEFAULT_PORT)));
            Ok(())
        }),
    },
    Flag {
        long: "dotfiles",
        short: None,
        value: None,
        help: "serve dotfiles and dot-folders (/.well-known/ is always served)",
        default: None,
        default_text: None,
        repeatable: false,
        section: Section::Serving,
        action: Action::Switch(|d| d.config.dotfiles = true),
    },
    Flag {
        long: "listing",
        short: None,
        value: None,
        help: "list folders that have no index.html (HTML, or JSON on\nAccept: application/json)",
        default: None,
        default_text: None,
        repeatable: false,
        section: Section::Serving,
        action: Action::Switch(|d| d.config.listing = true),
    },
    Flag {
        long: "spa",
        short: None,
        value: None,
        help: "serve /index.html for missing paths without an extension",
        default: None,
        default_text: None,
        repeatable: false,
        section: Section::Serving,
        action: Action::Switch(|d| d.config.spa = true),
    },
    Flag {
        long: "mime",
        short: None,
        value: Some("EXT=TYPE"),
        help: "media type for an extension; repeatable",
        default: None,
        default_text: None,
        repeatable: true,
        section: Section::Serving,
        action: Action::Value(|d, v| {
            let v = text(v)?;
            let (ext, ty) = v
                .split_once('=')
                .filter(|(e, t)| !e.is_empty() && valid_media_type(t))
                .ok_or(format!("expected EXT=TYPE like md=text/markdown, got {v:?}"))?;
            d.config.mime.insert(ext.trim_start_matches('.').to_ascii_lowercase(), ty.to_string());
            Ok(())
        }),
    },
    Flag {
        long: "cache-control",
        short: None,
        value: Some("VALUE"),
        help: "Cache-Control on every successful response",
        default: None,
        default_text: None,
        repeatable: false,
        section: Section::Serving,
        action: Action::Value(|d, v| {
            let v = text(v)?;
            if !valid_field_value(&v) {
                return Err(format!("invalid header value {v:?}"));
            }
            d.config.cache_control = Some(v);
            Ok(())
        }),
    },
    Flag {
        long: "header",
        short: None,
        value: Some("'NAME: VALUE'"),
        help: "extra header on every successful response; repeatable",
        default: None,
        default_text: None,
        repeatable: true,
        section: Section::Serving,
        action: Action::Value(|d, v| {
            let header = header_line(&text(v)?)?;
            d.config.headers.push(header);
            Ok(())
        }),
    },
    Flag {
        long: "cache-control-for",
        short: None,
        value: Some("GLOB VALUE"),
        help: "Cache-Control for the paths GLOB matches, instead of\n--cache-control (the first match wins); GLOB: * ** ? {a,b},\nwithout a / it matches the file name ('*.html'); repeatable",
        default: None,
        default_text: None,
        repeatable: true,
        section: Section::Serving,
        action: Action::Pair(|d, glob, v| {
            let glob = Glob::new(&text(glob)?)?;
            let v = text(v)?;
            if !valid_field_value(&v) {
                return Err(format!("invalid header value {v:?}"));
            }
            d.config.path_rules.push(PathRule::cache_control(glob, v));
            Ok(())
        }),
    },
    Flag {
        long: "header-for",
        short: None,
        value: Some("GLOB 'NAME: VALUE'"),
        help: "extra header on the successful responses for the paths GLOB\nmatches (as for --cache-control-for); repeatable",
        default: None,
        default_text: None,
        repeatable: true,
        section: Section::Serving,
        action: Action::Pair(|d, glob, v| {
            let glob = Glob::new(&text(glob)?)?;
            let (name, value) = header_line(&text(v)?)?;
            if name.eq_ignore_ascii_case("cache-control") {
                return Err("use --cache-control-for for Cache-Control (it replaces the site-wide one)".into());
            }
            d.config.path_rules.push(PathRule::header(glob, name, value));
            Ok(())
        }),
    },
    Flag {
        long: "cache-ttl",
        short: None,
        value: Some("S"),
        help: "trust cached file metadata (and small files' bytes, and the\nroot's path) for S seconds before re-checking; 0: re-check\nevery request",
        default: Some("1"),
        default_text: None,
        repeatable: false,
        section: Section::Serving,
        action: Action::Value(|d, v| {
            let v = text(v)?;
            d.config.cache_ttl = v
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && (0.0..=3600.0).contains(s))
                .map(Duration::from_secs_f64)
                .ok_or(format!("expected seconds from 0 to 3600, got {v:?}"))?;
            Ok(())
        }),
    },
    Flag {
        long: "compress",
        short: None,
        value: Some("on|off"),
        help: "gzip, brotli and zstd made on the fly for compressible types\n(text, scripts, JSON, SVG, ...) of --compress-min to\n--compress-max bytes that have no sidecar; made off the loop,\nkept in memory",
        default: Some("on"),
        default_text: None,
        repeatable: false,
        section: Section::Serving,
        action: Action::Value(|d, v| {
            d.config.compress.on = match text(v)?.as_str() {
                "on" => true,
                "off" => false,
                other => return Err(format!("expected on or off, got {other:?}")),
            };
            Ok(())
        }),
    },
    Flag {
        long: "compress-min",
        short: None,
        value: Some("BYTES"),
        help: "smallest file compressed on the fly",
        default: Some("256"),
        default_text: None,
        repeatable: false,
        section: Section::Serving,
        action: Action::Value(|d, v| {
            d.config.compress.min = number(v)?;
            Ok(())
        }),
    },
    Flag {
        long: "compress-max",
        short: None,
        value: Some("BYTES"),
        help: "largest file compressed on the fly (at most 16 MiB)",
        default: Some("8388608"),
        default_text: None,
        repeatable: false,
        section: Section::Serving,
        action: Action::Value(|d, v| {
            let n: u64 = number(v)?;
            if n > MAX_SIZE_CEILING {
                return Err(format!("at most {MAX_SIZE_CEILING}, got {n}"));
            }
            d.config.compress.max = n;
            Ok(())
        }),
    },
    Flag {
        long: "compress-memory",
        short: None,
        value: Some("BYTES"),
        help: "memory for the codings made on the fly, per worker; the least\nrecently used are dropped beyond it",
        default: Some("67108864"),
        default_text: None,
        repeatable: false,
        section: Section::Serving,
        action: Action::Value(|d, v| {
            d.config.compress.memory = number(v)?;
            Ok(())
        }),
    },
    Flag {
        long: "max-head-bytes",
        short: None,
        value: Some("N"),
        help: "request line + header fields (431/414 beyond)",
        default: Some("8192"),
        default_text: None,
        repeatable: false,
        section: Section::Limits,
        action: Action::Value(|d, v| {
            d.config.limits.max_head_bytes = buffer_size(v)?;
            Ok(())
        }),
    },
    Flag {
        long: "max-uri-bytes",
        short: None,
        value: Some("N"),
        help: "request target (414 beyond)",
        default: Some("4096"),
        default_text: None,
        repeatable: false,
        section: Section::Limits,
        action: Action::Value(|d, v| {
            d.config.limits.max_uri_bytes = buffer_size(v)?;
            Ok(())
        }),
    },
    Flag {
        long: "max-headers",
        short: None,
        value: Some("N"),
        help: "header fields (431 beyond; at most 256)",
        default: Some("64"),
        default_text: None,
        repeatable: false,
        section: Section::Limits,
        action: Action::Value(|d, v| {
            let n: usize = positive(v)?;
            if n > MAX_HEADERS_CAP {
                return Err(format!("at most {MAX_HEADERS_CAP}"));
            }
            d.config.limits.max_headers = n;
            Ok(())
        }),
    },
    Flag {
        long: "max-body-bytes",
        short: None,
        value: Some("N"),
        help: "request body, read and discarded (413 beyond)",
        default: Some("65536"),
        default_text: None,
        repeatable: false,
        section: Section::Limits,
        action: Action::Value(|d, v| {
            d.config.limits.max_body_bytes = number(v)?;
            Ok(())
        }),
    },
    Flag {
        long: "request-timeout",
        short: None,
        value: Some("S"),
        help: "a request head must arrive within S of its first byte\n(408 then close)",
        default: Some("10"),
        default_text: None,
        repeatable: false,
        section: Section::Timeouts,
        action: Action::Value(|d, v| {
            d.config.timeouts.request = seconds(v)?;
            Ok(())
        }),
    },
    Flag {
        long: "idle-timeout",
        short: None,
        value: Some("S"),
        help: "keep-alive wait for the next request",
        default: Some("15"),
        default_text: None,
        repeatable: false,
        section: Section::Timeouts,
        action: Action::Value(|d, v| {
            d.config.timeouts.idle = seconds(v)?;
            Ok(())
        }),
    },
    Flag {
        long: "write-timeout",
        short: None,
        value: Some("S"),
        help: "a response making no progress is dropped",
        default: Some("30"),
        default_text: None,
        repeatable: false,
        section: Section::Timeouts,
        action: Action::Value(|d, v| {
            d.config.timeouts.write_stall = seconds(v)?;
            Ok(())
        }),
    },
    Flag {
        long: "drain-timeout",
        short: None,
        value: Some("S"),
        help: "on SIGINT/SIGTERM, time given to responses in flight",
        default: Some("10"),
        default_text: None,
        repeatable: false,
        section: Section::Timeouts,
        action: Action::Value(|d, v| {
            d.config.drain_timeout = seconds(v)?;
            Ok(())
        }),
    },
    Flag {
        long: "shutdown-delay",
        short: None,
        value: Some("S"),
        help: "on the first SIGINT/SIGTERM, /readyz answers 503 at once but\nserving goes on for S seconds (while load balancers stop\nsending), then the drain begins",
        default: Some("0"),
        default_text: None,
        repeatable: false,
        section: Section::Timeouts,
        action: Action::Value(|d, v| {
            d.config.shutdown_delay = seconds_or_zero(v)?;
            Ok(())
        }),
    },
    Flag {
        long: "admin",
        short: None,
        value: Some("ADDR"),
        help: "a listener of its own for /metrics (Prometheus), /healthz\nand /readyz (ADDR: an IP, or IP:port; port 9090 if none)",
        default: None,
        default_text: Some("off"),
        repeatable: false,
        section: Section::Operating,
        action: Action::Value(|d, v| {
            let (ip, port) = parse_bind(&text(v)?)?;
            d.config.admin = Some(SocketAddr::new(ip, port.unwrap_or(ADMIN_DEFAULT_PORT)));
            Ok(())
        }),
    },
    Flag {
        long: "access-log",
        short: None,
        value: Some("PATH"),
        help: "access log (- for stdout; see --log-format)",
        default: None,
        default_text: Some("off"),
        repeatable: false,
        section: Section::Operating,
        action: Action::Value(|d, v| {
            d.config.access_log = Some(v.into());
            Ok(())
        }),
    },
    Flag {
        long: "log-format",
        short: None,
        value: Some("combined|json"),
        help: "access-log lines: Combined Log Format, or one JSON object per\nline (RFC 3339 time in µs, client, method, target, protocol,\nstatus, bytes, duration_us, referer, user_agent)",
        default: Some("combined"),
        default_text: None,
        repeatable: false,
        section: Section::Operating,
        action: Action::Value(|d, v| {
            d.config.log_format = match text(v)?.as_str() {
                "combined" => LogFormat::Combined,
                "json" => LogFormat::Json,
                other => return Err(format!("expected combined or json, got {other:?}")),
            };
            Ok(())
        }),
    },
    Flag {
        long: "stats",
        short: None,
        value: Some("S"),
        help: "print loop statistics every S seconds",
        default: None,
        default_text: Some("off"),
        repeatable: false,
        section: Section::Operating,
        action: Action::Value(|d, v| {
            d.config.stats = Some(seconds(v)?);
            Ok(())
        }),
    },
    Flag {
        long: "trace",
        short: None,
        value: None,
        help: "log every readiness event and state change",
        default: None,
        default_text: Some("off"),
        repeatable: false,
        section: Section::Operating,
        action: Action::Switch(|d| d.config.trace = true),
    },
    Flag {
        long: "user",
        short: None,
        value: Some("NAME"),
        help: "when started as root: once the ports are bound and the root and\nthe log are open, switch to this user for good (start-up fails\nif any step fails)",
        default: None,
        default_text: Some("stay"),
        repeatable: false,
        section: Section::Operating,
        action: Action::Value(|d, v| {
            d.config.user = Some(text(v)?).filter(|u| !u.is_empty());
            Ok(())
        }),
    },
    Flag {
        long: "group",
        short: None,
        value: Some("NAME"),
        help: "with --user: this group instead of the user's own",
        default: None,
        default_text: None,
        repeatable: false,
        section: Section::Operating,
        action: Action::Value(|d, v| {
            d.config.group = Some(text(v)?).filter(|g| !g.is_empty());
            Ok(())
        }),
    },
    Flag {
        long: "config",
        short: Some('c'),
        value: Some("FILE"),
        help: "read flags from a TOML file (see Config file below); read once\nat start: a change needs a restart",
        default: None,
        default_text: Some("none"),
        repeatable: false,
        section: Section::Operating,
        action: Action::Value(|d, v| {
            d.config.config_file = Some(v.into());
            Ok(())
        }),
    },
    Flag {
        long: "help",
        short: Some('h'),
        value: None,
        help: "this help",
        default: None,
        default_text: None,
        repeatable: false,
        section: Section::Operating,
        action: Action::Help,
    },
    Flag {
        long: "version",
        short: Some('V'),
        value: None,
        help: "the version",
        default: None,
        default_text: None,
        repeatable: false,
        section: Section::Operating,
        action: Action::Version,
    },
];

/// What each signal does (they are not flags, but operators look for them in `--help`).
pub static SIGNALS: &[(&str, &str)] = &[
    (
        "SIGINT, SIGTERM",
        "/readyz answers 503; after --shutdown-delay, stop accepting,\nlet responses in flight finish (up to --drain-timeout), print\na summary and exit 0; a second one exits at once with 128 +\nthe signal number",
    ),
    (
        "SIGHUP, SIGUSR1",
        "reopen the access log (after logrotate moved it) and reload the\n--tls-cert and --tls-key files (open connections keep theirs;\na reload that fails keeps the old ones and says why)",
    ),
];

/// A `Config` being built from defaults and then the command line.
#[derive(Debug)]
pub struct Draft {
    config: Config,
    port: u16,
    binds: Vec<(IpAddr, Option<u16>)>,
    root: Option<PathBuf>,
}

impl Draft {
    fn new() -> Draft {
        let config = Config {
            root: PathBuf::from("htdocs"),
            addrs: Vec::new(),
            unix_sockets: Vec::new(),
            unix_mode: 0,
            listen_given: false,
            proxy_protocol: false,
            trusted_proxies: Vec::new(),
            trusted_header: TrustedHeader::XForwardedFor,
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            max_connections: None,
            dotfiles: false,
            listing: false,
            spa: false,
            mime: MimeOverrides::new(),
            cache_control: None,
            headers: Vec::new(),
            path_rules: Vec::new(),
            access_log: None,
            log_format: LogFormat::Combined,
            drain_timeout: Duration::ZERO,
            shutdown_delay: Duration::ZERO,
            admin: None,
            cache_ttl: Duration::ZERO,
            workers: 1,
            io_threads: 32,
            stats: None,
            trace: false,
            user: None,
            group: None,
            tls_cert: None,
            tls_key: None,
            tls_resumption: true,
            http2: true,
            compress: CompressOptions { on: true, ..CompressOptions::default() },
            redirect_http: None,
            config_file: None,
        };
        Draft { config, port: DEFAULT_PORT, binds: Vec::new(), root: None }
    }

    fn apply_defaults(&mut self) -> Result<(), UsageError> {
        for flag in FLAGS {
            if let (Some(default), Action::Value(apply)) = (flag.default, flag.action) {
                apply(self, default.into()).map_err(|e| UsageError(format!("--{}: {e}", flag.long)))?;
            }
        }
        // A default is not a choice: only what was given counts as given.
        self.config.listen_given = false;
        Ok(())
    }

    fn finish(mut self) -> Config {
        if let Some(root) = self.root {
            self.config.root = root;
        }
        if self.binds.is_empty() && self.config.unix_sockets.is_empty() {
            self.binds.push((IpAddr::V4(Ipv4Addr::UNSPECIFIED), None));
        }
        let port = self.port;
        self.config.addrs = self.binds.into_iter().map(|(ip, p)| SocketAddr::new(ip, p.unwrap_or(port))).collect();
        self.config
    }
}

impl Config {
    /// What the site serves and how, from these flags: the extra fields are
    /// `--cache-control`, then each `--header`, in order.
    pub fn site_options(&self, cache_fds: usize) -> SiteOptions {
        let cache_control = self.cache_control.iter().map(|v| ("Cache-Control".to_string(), v.clone()));
        SiteOptions {
            dotfiles: self.dotfiles,
            listing: self.listing,
            spa: self.spa,
            mime: self.mime.clone(),
            headers: cache_control.chain(self.headers.iter().cloned()).collect(),
            rules: self.path_rules.clone(),
            cache_ttl: self.cache_ttl,
            cache_fds,
            // Without a pool every job runs on the loop: no work nobody waits for.
            compress: CompressOptions { background: self.io_threads > 0, ..self.compress },
        }
    }

    /// Parses the arguments after the program name, with `EVSERVE_<FLAG>` variables from
    /// the process environment.
    pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
        Self::parse_with_env(args, |name| std::env::var_os(name))
    }

    /// Parses `args`. A flag that is not on the command line is taken from the variable
    /// `env_name(flag)`, else from the `--config` file (`--config` or `EVSERVE_CONFIG`), else
    /// from its default; the port from `PORT` when neither `--port` nor `EVSERVE_PORT` is set
    /// (the convention of container platforms), before the file's. Each flag comes whole from
    /// one place: a repeatable flag on the command line replaces the variable's and the
    /// file's values, it does not add to them.
    pub fn parse_with_env(
        args: impl IntoIterator<Item = OsString>,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Command, UsageError> {
        use lexopt::Arg;
        let mut given: Vec<(&'static Flag, Vec<OsString>)> = Vec::new();
        let mut root = None;
        let mut parser = lexopt::Parser::from_args(args);
        while let Some(arg) = parser.next()? {
            let flag = match arg {
                Arg::Short(c) => FLAGS.iter().find(|f| f.short == Some(c)),
                Arg::Long(name) => FLAGS.iter().find(|f| f.long == name),
                Arg::Value(v) if root.is_none() => {
                    root = Some(v);
                    continue;
                }
                Arg::Value(_) => None,
            };
            let Some(flag) = flag else { return Err(arg.unexpected().into()) };
            match flag.action {
                Action::Help => return Ok(Command::Help),
                Action::Version => return Ok(Command::Version),
                Action::Switch(_) => given.push((flag, Vec::new())),
                Action::Value(_) => given.push((flag, vec![parser.value()?])),
                Action::Pair(_) => given.push((flag, vec![parser.value()?, parser.value()?])),
            }
        }
        let file_path = match given.iter().rev().find(|(f, _)| f.long == CONFIG_FLAG) {
            Some((_, values)) => values.first().cloned(),
            None => FLAGS.iter().find(|f| f.long == CONFIG_FLAG).and_then(|f| env(&env_name(f))),
        };
        let file = file_path.map(|path| ConfigFile::read(PathBuf::from(path))).transpose()?;
        let mut draft = Draft::new();
        draft.apply_defaults()?;
        draft.root = root.or_else(|| env(ROOT_ENV)).map(PathBuf::from);
        if draft.root.is_none() {
            draft.root = file.as_ref().and_then(ConfigFile::root);
        }
        for flag in FLAGS.iter().filter(|f| !given.iter().any(|(g, _)| g.long == f.long)) {
            let name = env_name(flag);
            let (name, value) = match env(&name) {
                Some(v) => (name, v),
                None => match env("PORT").filter(|_| flag.long == "port") {
                    Some(v) => ("PORT".to_string(), v),
                    None => {
                        if let Some(file) = &file {
                            file.apply(&mut draft, flag)?;
                        }
                        continue;
                    }
                },
            };
            draft.apply_env(flag, &name, value)?;
        }
        for (flag, values) in given {
            let wrong = |e: String| UsageError(format!("--{}: {e}", flag.long));
            match (flag.action, &values[..]) {
                (Action::Switch(set), _) => set(&mut draft),
                (Action::Value(apply), [v]) => apply(&mut draft, v.clone()).map_err(wrong)?,
                (Action::Pair(apply), [a, b]) => apply(&mut draft, a.clone(), b.clone()).map_err(wrong)?,
                _ => return Err(wrong("the wrong number of values".into())),
            }
        }
        let config = draft.finish();
        if config.group.is_some() && config.user.is_none() {
            return Err(UsageError("--group: needs --user".into()));
        }
        check_tls(&config)?;
        Ok(Command::Run(Box::new(config)))
    }
}

/// The TLS flags that only make sense together.
fn check_tls(config: &Config) -> Result<(), UsageError> {
    match (&config.tls_cert, &config.tls_key) {
        (Some(_), None) => Err(UsageError("--tls-cert: needs --tls-key".into())),
        (None, Some(_)) => Err(UsageError("--tls-key: needs --tls-cert".into())),
        (None, None) if config.redirect_http.is_some() => {
            Err(UsageError("--redirect-http: needs --tls-cert and --tls-key".into()))
        }
        (None, None) if !config.tls_resumption => {
            Err(UsageError("--tls-no-resumption: needs --tls-cert and --tls-key".into()))
        }
        (Some(_), Some(_)) if config.proxy_protocol => Err(UsageError(
            "--proxy-protocol: not supported with --tls-cert (the header would come before the TLS bytes)".into(),
        )),
        // With SO_REUSEPORT (--workers) a redirect on an HTTPS port would bind without an
        // error and split that port's clients between TLS and the plain 308 at random.
        _ if config.redirect_http.is_some_and(|r| config.addrs.iter().any(|a| overlaps(*a, r))) => {
            Err(UsageError("--redirect-http: its port is one the HTTPS listeners use".into()))
        }
        _ if config
            .admin
            .is_some_and(|r| config.addrs.iter().chain(&config.redirect_http).any(|a| overlaps(*a, r))) =>
        {
            Err(UsageError("--admin: its port is one the public listeners use".into()))
        }
        _ => Ok(()),
    }
}

/// Two listening addresses that would take each other's connections: the same port on the
/// same address, or on every address (port 0 asks for a free port of its own).
fn overlaps(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0 && a.port() == b.port() && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// The flag that names the config file (and `EVSERVE_CONFIG`).
pub const CONFIG_FLAG: &str = "config";

/// The variable that names the folder to serve when no ROOT is given.
pub const ROOT_ENV: &str = "EVSERVE_ROOT";

/// `--idle-timeout` -> `EVSERVE_IDLE_TIMEOUT`.
pub fn env_name(flag: &Flag) -> String {
    format!("EVSERVE_{}", flag.long.to_ascii_uppercase().replace('-', "_"))
}

impl Draft {
    /// A flag's value from the environment; a switch takes `1`/`true`/`yes`/`on` or
    /// `0`/`false`/`no`/`off`/empty. The error names the variable.
    fn apply_env(&mut self, flag: &Flag, name: &str, value: OsString) -> Result<(), UsageError> {
        let wrong = |e: String| UsageError(format!("{name} (--{}): {e}", flag.long));
        match flag.action {
            Action::Value(apply) => apply(self, value).map_err(wrong),
            // One rule per variable: `GLOB VALUE`, split at the first space.
            Action::Pair(apply) => match value.to_str().and_then(|v| v.trim().split_once([' ', '\t'])) {
                Some((a, b)) => apply(self, a.into(), b.trim_start().into()).map_err(wrong),
                None => Err(wrong(format!("expected GLOB VALUE, separated by a space, got {value:?}"))),
            },
            Action::Switch(set) => match value.to_str().map(str::to_ascii_lowercase).as_deref() {
                Some("1" | "true" | "yes" | "on") => {
                    set(self);
                    Ok(())
                }
                Some("" | "0" | "false" | "no" | "off") => Ok(()),
                _ => Err(wrong(format!("expected 1 or 0, got {value:?}"))),
            },
            Action::Help | Action::Version => Ok(()),
        }
    }
}

/// The `--help` text, rendered from `FLAGS`.
pub fn help() -> String {
    let mut out = String::from(
        "evserve: a static-file HTTP/1.1 and HTTP/2 server on one non-blocking event loop\n\n\
         Usage: evserve [ROOT] [OPTIONS]\n\n\
         Every flag can also be set in the environment as EVSERVE_<FLAG> (EVSERVE_IDLE_TIMEOUT=30,\n\
         EVSERVE_TRACE=1, EVSERVE_ROOT=/srv/www) or in a --config file; the command line wins,\n\
         then the environment. PORT is used when neither --port nor EVSERVE_PORT is set.\n\n",
    );
    help_line(&mut out, "ROOT", "folder to serve [default: htdocs]");
    for section in Section::ALL {
        out.push('\n');
        out.push_str(section.title());
        out.push_str(":\n");
        for flag in FLAGS.iter().filter(|f| f.section == section) {
            let mut label = match flag.short {
                Some(c) => format!("-{c}, --{}", flag.long),
                None => format!("    --{}", flag.long),
            };
            if let Some(value) = flag.value {
                label.push(' ');
                label.push_str(value);
            }
            let mut text = flag.help.to_string();
            if let Some(default) = flag.default.or(flag.default_text) {
                text.push_str(&format!(" [default: {default}]"));
            }
            help_line(&mut out, &label, &text);
        }
    }
    out.push_str(CONFIG_FILE_HELP);
    for (kind, keys) in config_keys() {
        help_line(&mut out, kind, &wrap(&keys, HELP_WIDTH - HELP_COLUMN));
    }
    out.push_str("\nSignals:\n");
    for (signals, text) in SIGNALS {
        help_line(&mut out, signals, text);
    }
    out
}

/// Help text starts in this column.
const HELP_COLUMN: usize = 28;

/// Generated help lines end before this column.
const HELP_WIDTH: usize = 92;

/// `--help`'s account of the config file; the keys by kind follow it (`config_keys`).
pub const CONFIG_FILE_HELP: &str = "
Config file (--config FILE or EVSERVE_CONFIG=FILE, in TOML):
  One `key = value` a line; each key is a long flag name, or root for ROOT. Each flag comes
  whole from one place: the command line, else EVSERVE_<FLAG>, else the file (a repeatable
  flag given on the command line replaces the file's values). The file is read once, at
  start: a change needs a restart (under socket activation the listening socket keeps
  queueing meanwhile). An unknown key, a bad value or bad syntax stops the start with exit
  status 2, naming the file, the line and the key.
      root = \"/srv/www\"
      port = 8080
      listing = true
      header = [\"X-Frame-Options: DENY\", \"X-Content-Type-Options: nosniff\"]
      cache-control-for = [[\"/assets/**\", \"public, max-age=31536000, immutable\"],
                           [\"*.html\", \"no-cache\"]]
  Accepted: strings (\"...\" or '...'), decimal numbers, true/false, arrays (one line or
  several), # comments; not tables, dotted keys or multi-line strings. Keys take:
";

/// The config file's keys by what their values are, from `FLAGS`: switches take a boolean,
/// repeatable flags an array, two-value flags an array of pairs, the rest one value.
pub fn config_keys() -> [(&'static str, Vec<&'static str>); 4] {
    let keys = |pick: fn(&Flag) -> bool| -> Vec<&'static str> {
        FLAGS
            .iter()
            .filter(|f| f.long != CONFIG_FLAG && !matches!(f.action, Action::Help | Action::Version) && pick(f))
            .map(|f| f.long)
            .collect()
    };
    let mut single = vec![keys::ROOT_KEY];
    single.extend(keys(|f| matches!(f.action, Action::Value(_)) && !f.repeatable));
    [
        ("true or false", keys(|f| matches!(f.action, Action::Switch(_)))),
        ("an array of values", keys(|f| matches!(f.action, Action::Value(_)) && f.repeatable)),
        ("an array of [GLOB, VALUE]", keys(|f| matches!(f.action, Action::Pair(_)))),
        ("a string or a number", single),
    ]
}

/// `words` joined by `, `, broken into lines of at most `width` characters.
fn wrap(words: &[&str], width: usize) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for (i, word) in words.iter().enumerate() {
        let piece = if i + 1 < words.len() { format!("{word},") } else { word.to_string() };
        if line_len > 0 && line_len + 1 + piece.len() > width {
            out.push('\n');
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(&piece);
        line_len += piece.len();
    }
    out
}

/// `  LABEL   text`, the text's further lines indented to the same column; a label too
/// long for the column has the text start on the next line.
fn help_line(out: &mut String, label: &str, text: &str) {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    match HELP_COLUMN.checked_sub(2 + label.len()).filter(|pad| *pad > 0) {
        Some(pad) => out.push_str(&format!("  {label}{}{first}\n", " ".repeat(pad))),
        None => out.push_str(&format!("  {label}\n{}{first}\n", " ".repeat(HELP_COLUMN))),
    }
    for line in lines {
        out.push_str(&format!("{}{line}\n", " ".repeat(HELP_COLUMN)));
    }
}

fn text(v: OsString) -> Result<String, String> {
    v.into_string().map_err(|v| format!("not valid UTF-8: {v:?}"))
}

fn number<T: std::str::FromStr>(v: OsString) -> Result<T, String> {
    let v = text(v)?;
    v.parse().map_err(|_| format!("expected a number, got {v:?}"))
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(v: OsString) -> Result<T, String> {
    let n: T = number(v)?;
    if n <= T::default() {
        return Err("must be greater than 0".into());
    }
    Ok(n)
}

/// A byte limit that sizes a per-connection buffer: bounded, so memory stays bounded.
fn buffer_size(v: OsString) -> Result<usize, String> {
    let n: usize = positive(v)?;
    if n > MAX_BUFFER_LIMIT {
        return Err(format!("at most {MAX_BUFFER_LIMIT} bytes"));
    }
    Ok(n)
}

fn seconds(v: OsString) -> Result<Duration, String> {
    let v = text(v)?;
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or(format!("expected seconds between 0 and 86400, got {v:?}"))
}

/// As `seconds`, but 0 (none) allowed.
fn seconds_or_zero(v: OsString) -> Result<Duration, String> {
    match text(v.clone())?.parse::<f64>() {
        Ok(0.0) => Ok(Duration::ZERO),
        _ => seconds(v).map_err(|e| e.replace("between 0", "from 0")),
    }
}

/// `1.2.3.4`, `::1`, `[::1]`, `1.2.3.4:80` or `[::1]:80`.
fn parse_bind(v: &str) -> Result<(IpAddr, Option<u16>), String> {
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
    Err(format!("expected an IP address like 127.0.0.1 or ::1, got {v:?}"))
}

/// RFC 9110 token characters (field names).
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Visible ASCII and spaces only: no CR, LF or other controls can reach a header line.
fn valid_field_value(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
}

/// `Name: value`, both checked.
fn header_line(v: &str) -> Result<(String, String), String> {
    v.split_once(':')
        .map(|(n, val)| (n, val.trim()))
        .filter(|(n, val)| is_token(n) && valid_field_value(val))
        .map(|(n, val)| (n.to_string(), val.to_string()))
        .ok_or(format!("expected 'Name: value', got {v:?}"))
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

    #[test]
    fn listener_flags() {
        let c = parse(&["--bind", "unix:/run/ev.sock", "--unix-mode", "600", "--proxy-protocol"]).unwrap();
        assert_eq!(c.unix_sockets, vec![PathBuf::from("/run/ev.sock")]);
        assert!(c.addrs.is_empty(), "a Unix bind alone adds no TCP default");
        assert_eq!(c.unix_mode, 0o600);
        assert!(c.proxy_protocol && c.listen_given);
        let d = parse(&[]).unwrap();
        assert_eq!((d.unix_mode, d.listen_given, d.trusted_header), (0o660, false, TrustedHeader::XForwardedFor));
        let c = parse(&["--trusted-proxy", "10.0.0.0/8", "--trusted-header", "Forwarded", "-p", "1"]).unwrap();
        assert_eq!(c.trusted_proxies, vec!["10.0.0.0/8".parse().unwrap()]);
        assert_eq!(c.trusted_header, TrustedHeader::Forwarded);
        assert!(c.listen_given);
        for bad in [
            &["--bind", "unix:"][..],
            &["--unix-mode", "0999"],
            &["--unix-mode", "1777"],
            &["--trusted-proxy", "10.0.0.1/8"],
            &["--trusted-header", "x-real-ip"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_table_has_one_row_per_name() {
        for (i, a) in FLAGS.iter().enumerate() {
            for b in &FLAGS[i + 1..] {
                assert_ne!(a.long, b.long);
                assert!(a.short.is_none() || a.short != b.short, "{a:?} and {b:?} share -{:?}", a.short);
            }
            assert!(a.default.is_none() || a.default_text.is_none(), "{a:?}: one kind of default");
            assert_eq!(a.value.is_some(), a.takes_values(), "{a:?}: value placeholder");
            assert_eq!(a.repeatable, a.help.contains("repeatable"), "{a:?}: --help says which flags repeat");
        }
    }

    #[test]
    fn the_readme_shows_the_help_text() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let help = help();
        assert!(
            readme.contains(&format!("```text\n{help}```")),
            "README.md's flag list differs from --help; paste `cargo run -- --help` into it:\n{help}"
        );
    }

    #[test]
    fn the_admin_listener_and_the_shutdown_delay() {
        let c = parse(&["--admin", "127.0.0.1", "--shutdown-delay", "0"]).unwrap();
        assert_eq!(c.admin, Some("127.0.0.1:9090".parse().unwrap()), "port 9090 when none is given");
        assert_eq!(c.shutdown_delay, Duration::ZERO);
        let c = parse(&["--admin", "[::1]:0", "--shutdown-delay", "7.5"]).unwrap();
        assert_eq!(c.admin, Some("[::1]:0".parse().unwrap()));
        assert_eq!(c.shutdown_delay, Duration::from_millis(7500));
        assert_eq!(Config::default().admin, None, "off by default");
        let e = parse(&["--port", "9000", "--admin", "0.0.0.0:9000"]).unwrap_err();
        assert!(e.0.starts_with("--admin: its port is one the public listeners use"), "{e}");
        assert!(parse(&["--shutdown-delay", "-1"]).is_err());
    }

    #[test]
    fn the_tls_flags_go_together() {
        let c = parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem", "--redirect-http", "127.0.0.1"]).unwrap();
        assert_eq!((c.tls_cert.unwrap(), c.tls_key.unwrap()), ("c.pem".into(), "k.pem".into()));
        assert!(c.tls_resumption, "tickets are on by default");
        assert_eq!(c.redirect_http, Some("127.0.0.1:80".parse().unwrap()), "port 80 when none is given");
        let c = parse(&["--tls-cert", "c", "--tls-key", "k", "--tls-no-resumption", "--redirect-http", "[::1]:8080"]);
        let c = c.unwrap();
        assert!(!c.tls_resumption);
        assert_eq!(c.redirect_http, Some("[::1]:8080".parse().unwrap()));
        let err = |args: &[&str]| parse(args).unwrap_err().0;
        assert_eq!(err(&["--tls-cert", "c"]), "--tls-cert: needs --tls-key");
        assert_eq!(err(&["--tls-key", "k"]), "--tls-key: needs --tls-cert");
        assert!(err(&["--redirect-http", "127.0.0.1"]).starts_with("--redirect-http: needs"));
        assert!(err(&["--tls-no-resumption"]).starts_with("--tls-no-resumption: needs"));
        assert!(err(&["--tls-cert", "c", "--tls-key", "k", "--proxy-protocol"]).starts_with("--proxy-protocol"));
        assert!(err(&["--tls-cert", "c", "--tls-key", "k", "--redirect-http", "localhost"]).contains("IP address"));
        let tls = ["--tls-cert", "c", "--tls-key", "k", "--port", "8443"];
        assert!(err(&[&tls[..], &["--redirect-http", "127.0.0.1:8443"]].concat()).contains("HTTPS listeners"));
        assert!(parse(&[&tls[..], &["--redirect-http", "127.0.0.1:8080"]].concat()).is_ok());
        let any_port = ["--tls-cert", "c", "--tls-key", "k", "--port", "0", "--redirect-http", "127.0.0.1:0"];
        assert!(parse(&any_port).is_ok(), "port 0 is a free port each");
    }

    fn parse_env(args: &[&str], vars: &[(&str, &str)]) -> Result<Config, UsageError> {
        let env = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| OsString::from(v));
        match Config::parse_with_env(args.iter().map(OsString::from), env)? {
            Command::Run(c) => Ok(*c),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn the_environment_fills_in_what_the_command_line_leaves_out() {
        let c = parse_env(
            &["--idle-timeout", "3"],
            &[
                ("EVSERVE_IDLE_TIMEOUT", "9"),
                ("EVSERVE_WRITE_TIMEOUT", "7"),
                ("EVSERVE_TRACE", "1"),
                ("EVSERVE_LISTING", "0"),
                ("EVSERVE_ROOT", "/srv/www"),
                ("EVSERVE_HEADER", "X-A: b"),
            ],
        )
        .unwrap();
        assert_eq!(c.timeouts.idle, Duration::from_secs(3), "the flag wins");
        assert_eq!(c.timeouts.write_stall, Duration::from_secs(7));
        assert!(c.trace && !c.listing);
        assert_eq!(c.root, PathBuf::from("/srv/www"));
        assert_eq!(c.headers, vec![("X-A".to_string(), "b".to_string())]);
        // A repeatable flag on the command line replaces the variable, not adds to it.
        let c = parse_env(&["-b", "::1"], &[("EVSERVE_BIND", "127.0.0.1")]).unwrap();
        assert_eq!(c.addrs, vec!["[::1]:8000".parse().unwrap()]);
        assert_eq!(parse_env(&["site"], &[("EVSERVE_ROOT", "/x")]).unwrap().root, PathBuf::from("site"));
    }

    #[test]
    fn port_comes_from_the_flag_then_evserve_port_then_port() {
        let port = |args: &[&str], vars: &[(&str, &str)]| parse_env(args, vars).unwrap().addrs[0].port();
        assert_eq!(port(&[], &[]), DEFAULT_PORT);
        assert_eq!(port(&[], &[("PORT", "5000")]), 5000);
        assert_eq!(port(&[], &[("PORT", "5000"), ("EVSERVE_PORT", "6000")]), 6000);
        assert_eq!(port(&["-p", "7000"], &[("PORT", "5000"), ("EVSERVE_PORT", "6000")]), 7000);
    }

    #[test]
    fn a_bad_variable_is_named() {
        let e = parse_env(&[], &[("EVSERVE_PORT", "x")]).unwrap_err();
        assert!(e.0.starts_with("EVSERVE_PORT (--port): "), "{e}");
        let e = parse_env(&[], &[("PORT", "http")]).unwrap_err();
        assert!(e.0.starts_with("PORT (--port): "), "{e}");
        let e = parse_env(&[], &[("EVSERVE_TRACE", "maybe")]).unwrap_err();
        assert!(e.0.contains("EVSERVE_TRACE"), "{e}");
    }

    /// A config file under the temp dir, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, text: &str) -> TempFile {
            let path = std::env::temp_dir().join(format!("evserve-config-{}-{name}.toml", std::process::id()));
            std::fs::write(&path, text).unwrap();
            TempFile(path)
        }

        fn arg(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn path_rules_take_two_values() {
        let c = parse(&[
            "--cache-control-for",
            "/assets/**",
            "public, max-age=31536000, immutable",
            "--header-for",
            "*.html",
            "X-Frame-Options: DENY",
            "--cache-control",
            "max-age=60",
            "--cache-control-for",
            "*.html",
            "no-cache",
        ])
        .unwrap();
        let options = c.site_options(16);
        assert_eq!(options.rules.len(), 3);
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            options.fields_for("/docs/index.html"),
            vec![pair("Cache-Control", "no-cache"), pair("X-Frame-Options", "DENY")]
        );
        assert_eq!(
            options.fields_for("/assets/a.css"),
            vec![pair("Cache-Control", "public, max-age=31536000, immutable")]
        );
        assert_eq!(options.fields_for("/a.txt"), vec![pair("Cache-Control", "max-age=60")]);
        for (args, flag) in [
            (&["--cache-control-for", "/a/{b"][..], "--cache-control-for"),
            (&["--cache-control-for", "a/b", "x"][..], "--cache-control-for"),
            (&["--cache-control-for", "*", "a\nb"][..], "--cache-control-for"),
            (&["--header-for", "*", "Bad Name: x"][..], "--header-for"),
            (&["--header-for", "*", "cache-control: x"][..], "--header-for"),
        ] {
            let e = parse(args).unwrap_err();
            assert!(e.0.contains(flag), "{e} should name {flag}");
        }
        let c = parse_env(&[], &[("EVSERVE_CACHE_CONTROL_FOR", "*.html  no-cache, private")]).unwrap();
        assert_eq!(c.path_rules[0].cache_control.as_deref(), Some("no-cache, private"));
        assert!(parse_env(&[], &[("EVSERVE_HEADER_FOR", "*.html")]).unwrap_err().0.contains("EVSERVE_HEADER_FOR"));
    }

    #[test]
    fn the_file_fills_in_what_the_environment_and_command_line_leave_out() {
        let file = TempFile::new(
            "precedence",
            "# evserve\nroot = 'from-file'\nport = 1111\nidle-timeout = 0.5\nwrite-timeout = 3\n\
             listing = true\nheader = [\n  'X-A: 1',\n  'X-B: 2',\n]\nunix-mode = \"0600\"\n\
             cache-control-for = [['*.html', 'no-cache'], ['/assets/**', 'immutable']]\n\
             header-for = ['/a/*', 'X-C: 3']\nmime = 'md=text/markdown'\n",
        );
        let c = parse_env(&["--config", file.arg()], &[]).unwrap();
        assert_eq!(c.root, PathBuf::from("from-file"));
        assert_eq!(c.addrs[0].port(), 1111);
        assert!(c.listen_given, "a port in the file is a port given");
        assert_eq!(c.timeouts.idle, Duration::from_millis(500));
        assert!(c.listing);
        assert_eq!(c.headers.len(), 2);
        assert_eq!(c.unix_mode, 0o600);
        assert_eq!(c.path_rules.len(), 3);
        assert_eq!(c.mime.get("md").map(String::as_str), Some("text/markdown"));
        assert_eq!(c.config_file.as_deref(), Some(file.0.as_path()));
        // The environment beats the file, the command line beats both; a repeatable flag
        // comes whole from one place.
        let c = parse_env(
            &["-p", "3333", "--header", "X-Z: 9", "site"],
            &[
                ("EVSERVE_CONFIG", file.arg()),
                ("EVSERVE_PORT", "2222"),
                ("EVSERVE_IDLE_TIMEOUT", "7"),
                ("EVSERVE_LISTING", "0"),
                ("EVSERVE_ROOT", "env-root"),
            ],
        )
        .unwrap();
        assert_eq!(c.addrs[0].port(), 3333);
        assert_eq!(c.timeouts.idle, Duration::from_secs(7));
        assert_eq!(c.timeouts.write_stall, Duration::from_secs(3), "the file, where nothing else says");
        assert!(!c.listing, "EVSERVE_LISTING=0 beats listing = true");
        assert_eq!(c.headers, vec![("X-Z".to_string(), "9".to_string())]);
        assert_eq!(c.root, PathBuf::from("site"));
        assert_eq!(
            parse_env(&[], &[("EVSERVE_CONFIG", file.arg()), ("EVSERVE_ROOT", "e")]).unwrap().root,
            PathBuf::from("e")
        );
        // PORT (the platform's) beats the file's port.
        assert_eq!(parse_env(&["-c", file.arg()], &[("PORT", "4444")]).unwrap().addrs[0].port(), 4444);
        // --help does not read the file.
        assert!(matches!(
            Config::parse_with_env(["-c", "/nonexistent", "-h"].map(OsString::from), |_| None),
            Ok(Command::Help)
        ));
    }

    #[test]
    fn file_mistakes_name_the_file_the_line_and_the_key() {
        let cases: &[(&str, &str)] = &[
            ("port = 80\nprot = 81\n", ":2: prot: unknown key"),
            ("\n\nport = 'x'", ":3: port: expected a number, got \"x\""),
            ("port = 70000", ":1: port: expected a number"),
            ("listing = 'yes'", ":1: listing: expected true or false, got a string"),
            ("port = true", ":1: port: expected a string or a number, got a boolean"),
            ("port = [1, 2]", ":1: port: takes one value, not an array"),
            ("header = [\n  'X-A: 1',\n  'bad',\n]", ":3: header: expected 'Name: value'"),
            ("header = [1]", ":1: header: expected 'Name: value'"),
            ("header-for = [['*', 'X: 1'],\n ['*']]", ":2: header-for: expected a pair"),
            ("cache-control-for = ['/a/{b', 'x']", ":1: cache-control-for: a { without its }"),
            ("cache-control-for = 'x'", ":1: cache-control-for: expected a pair"),
            ("root = 1", ":1: root: expected a folder's path"),
            ("config = 'other.toml'", ":1: config: a config file cannot name another one"),
            ("help = true", ":1: help: unknown key"),
            ("port = 1\nport = 2", ":2: port: given twice"),
            ("[server]\nport = 1", ":1: tables"),
            (
                "idle-timeout = 1\ncache-control = no-cache",
                ":2: cache-control: \"no-cache\": not a number; strings need quotes",
            ),
            ("unix-mode = 0660", ":1: unix-mode: \"0660\": leading zeros"),
            ("tls-cert = 'c.pem'\ntls-key = 'k.pem'\nredirect-http = 'localhost'", ":3: redirect-http: expected an IP"),
        ];
        for (i, (text, expected)) in cases.iter().enumerate() {
            let file = TempFile::new(&format!("mistake-{i}"), text);
            let e = parse(&["--config", file.arg()]).unwrap_err().0;
            assert_eq!(e.strip_prefix(file.arg()).map(|rest| rest.starts_with(expected)), Some(true), "{text:?}: {e}");
        }
        // Checked whole, even where the command line overrides the key.
        let file = TempFile::new("overridden", "port = 'x'");
        assert!(parse(&["-c", file.arg(), "-p", "1"]).unwrap_err().0.contains(":1: port:"));
        let e = parse(&["--config", "/nonexistent/evserve.toml"]).unwrap_err().0;
        assert!(e.starts_with("--config /nonexistent/evserve.toml: "), "{e}");
    }

    #[test]
    fn the_help_lists_every_key() {
        let help = help();
        let keys: Vec<&str> = config_keys().into_iter().flat_map(|(_, keys)| keys).collect();
        for flag in FLAGS.iter().filter(|f| {
            f.long != CONFIG_FLAG && matches!(f.action, Action::Value(_) | Action::Pair(_) | Action::Switch(_))
        }) {
            assert_eq!(keys.iter().filter(|k| **k == flag.long).count(), 1, "{flag:?}");
            assert!(help.contains(flag.long));
        }
        assert!(keys.contains(&"root"));
    }

    #[test]
    fn the_readme_config_example_is_read_as_it_says() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let start = readme.find("```toml\n").expect("README.md has a config file example") + "```toml\n".len();
        let example = &readme[start..start + readme[start..].find("```").unwrap()];
        let file = TempFile::new("readme", example);
        let c = parse(&["--config", file.arg()]).unwrap_or_else(|e| panic!("README.md's example: {e}"));
        assert_eq!(c.root, PathBuf::from("/srv/www"));
        assert_eq!(c.addrs, vec!["[::]:8080".parse().unwrap()]);
        assert_eq!(c.access_log, Some(PathBuf::from("-")));
        let fields = c.site_options(16).fields_for("/assets/app.css");
        assert_eq!(fields[0].1, "public, max-age=31536000, immutable");
    }
}
