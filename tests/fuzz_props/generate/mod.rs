//! The generator: requests built part by part (`line`, `target`, `headers`, `body`), then
//! perhaps broken (`chaos`), with what a well-formed one must get; and whole inputs
//! (`gen_case`): pipelined requests, damaged ones, random bytes, token soup.
//!
//! Every part draws from one `Rng` in a fixed order, so a seed always makes the same case.
mod body;
mod chaos;
mod headers;
mod line;
mod target;

pub use target::{RAW_PIECES, gen_target};

use evserve::fs::resolve::{Reject, resolve_target};
use evserve::http1::request::Limits;

use super::check::Expect;
use super::fixture::Fixture;
use super::harness::Setup;
use super::rng::Rng;

/// A request being generated, part by part.
pub struct Draft {
    pub method: Vec<u8>,
    pub target: Vec<u8>,
    pub version: Vec<u8>,
    pub minor: u8,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The values of the `Connection` fields, for the keep-alive expectation.
    pub conn_values: Vec<Vec<u8>>,
    pub body: Vec<u8>,
    /// The framing announces body bytes (so `Expect: 100-continue` gets its interim response).
    pub body_framed: bool,
    /// The framed body's size, as the body limit counts it.
    pub body_size: u64,
    pub expect_100: bool,
}

/// One generated request: its bytes, the length of its head, and what it must get when
/// it is well-formed (None when chaos was applied or a limit is crossed).
pub struct GenRequest {
    pub bytes: Vec<u8>,
    pub head_len: usize,
    pub expect: Option<Expect>,
}

pub fn gen_request(rng: &mut Rng, fx: &Fixture, limits: &Limits, chaos: bool) -> GenRequest {
    let method = line::method(rng);
    let target = gen_target(rng);
    let minor = line::minor(rng);
    let mut d = Draft::new(method, target, minor);
    headers::host(rng, &mut d);
    headers::fields(rng, fx, &mut d);
    headers::pad(rng, limits, &mut d);
    body::frame(rng, &mut d);
    headers::expect_continue(rng, &mut d);
    let clean = !(chaos && rng.chance(1, 3));
    if !clean {
        chaos::mutate(rng, &mut d);
    }
    d.finish(limits, clean)
}

impl Draft {
    fn new(method: &str, target: Vec<u8>, minor: u8) -> Draft {
        Draft {
            method: method.as_bytes().to_vec(),
            target,
            version: line::version(minor),
            minor,
            headers: Vec::new(),
            conn_values: Vec::new(),
            body: Vec::new(),
            body_framed: false,
            body_size: 0,
            expect_100: false,
        }
    }

    /// The request line and the fields, through the blank line.
    fn head(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&self.method);
        bytes.push(b' ');
        bytes.extend_from_slice(&self.target);
        bytes.push(b' ');
        bytes.extend_from_slice(&self.version);
        bytes.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            bytes.extend_from_slice(name);
            bytes.extend_from_slice(b": ");
            bytes.extend_from_slice(value);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        bytes
    }

    /// The request's bytes, and its expectation when it is clean and within the limits.
    fn finish(self, limits: &Limits, clean: bool) -> GenRequest {
        let mut bytes = self.head();
        let head_len = bytes.len();
        bytes.extend_from_slice(&self.body);
        let within_limits = head_len <= limits.max_head_bytes
            && self.target.len() <= limits.max_uri_bytes
            && self.headers.len() <= limits.max_headers
            && self.body_size <= limits.max_body_bytes;
        let well_formed = clean && within_limits && target::target_is_clean(&self.target);
        let expect = well_formed.then(|| self.expectation());
        GenRequest { bytes, head_len, expect }
    }

    /// What this well-formed request must get.
    fn expectation(&self) -> Expect {
        let method = std::str::from_utf8(&self.method).unwrap();
        let target = std::str::from_utf8(&self.target).unwrap();
        Expect {
            head: method == "HEAD",
            cont: self.expect_100 && self.minor == 1 && self.body_framed,
            keep_alive: keep_alive(self.minor, &self.conn_values),
            minor: self.minor,
            status: expected_status(method, target),
        }
    }
}

/// HTTP/1.1 keeps alive unless a `close` token says otherwise; 1.0 only with `keep-alive`.
fn keep_alive(minor: u8, conn_values: &[Vec<u8>]) -> bool {
    let mut close = false;
    let mut keep = false;
    for v in conn_values {
        for token in v.split(|&b| b == b',').map(|t| t.trim_ascii()) {
            close |= token.eq_ignore_ascii_case(b"close");
            keep |= token.eq_ignore_ascii_case(b"keep-alive");
        }
    }
    if minor == 0 { keep && !close } else { !close }
}

/// The status when the generator can tell: a path that does not resolve 400 (whatever the
/// method), OPTIONS 204, other methods 405, GET/HEAD of a target that is no path 400; None
/// for a lookup.
fn expected_status(method: &str, target: &str) -> Option<u16> {
    let path = target::target_path(target);
    let bad_path = path.is_some_and(|p| matches!(resolve_target(p, false), Err(Reject::BadRequest(_))));
    match method {
        _ if bad_path => Some(400),
        "OPTIONS" => Some(204),
        "GET" | "HEAD" if path.is_none() => Some(400),
        "GET" | "HEAD" => None,
        _ => Some(405),
    }
}

/// Up to `max` printable ASCII bytes.
fn printable(rng: &mut Rng, max: usize) -> Vec<u8> {
    (0..rng.below(max + 1)).map(|_| b' ' + rng.below(95) as u8).collect()
}

/// `name` with each letter in random case.
fn case_mix(rng: &mut Rng, name: &str) -> Vec<u8> {
    name.bytes()
        .map(|b| match rng.below(4) {
            0 => b.to_ascii_lowercase(),
            1 => b.to_ascii_uppercase(),
            _ => b,
        })
        .collect()
}

/// One generated input: the bytes, and the expectations when it is well-formed.
pub struct Case {
    /// The two bytes `Setup::from_bits` made the setup from (`run_raw`'s first two).
    pub bits: [u8; 2],
    pub input: Vec<u8>,
    pub setup: Setup,
    pub expect: Option<Vec<Expect>>,
    /// Generated requests that are well-formed by construction but that `request::parse`
    /// refused (generator and parser disagree).
    pub disagreements: Vec<String>,
}

pub fn gen_case(rng: &mut Rng, fx: &Fixture) -> Case {
    let bits = [rng.byte(), rng.byte()];
    let mut setup = Setup::from_bits(bits[0], bits[1]);
    setup.seed = rng.next_u64();
    let mut case = Case { bits, input: Vec::new(), setup, expect: None, disagreements: Vec::new() };
    let kind = rng.below(100);
    match kind {
        0..=79 => requests(rng, fx, &mut case, kind),
        80 if rng.chance(1, 20) => {
            // An error, then more than the lingering close drops (1 MiB): it must give up.
            case.input = b"GET / HTTP/1.1\r\n\r\n".to_vec();
            case.input.resize(1_100_000, b'x');
            case.setup.read_max = 1 << 20;
        }
        80..=89 => case.input = (0..rng.below(400)).map(|_| rng.byte()).collect(),
        _ => case.input = chaos::soup(rng),
    }
    // Byte-at-a-time delivery of a long input only costs time.
    if case.setup.read_max < 16 && case.input.len() > 3000 {
        case.setup.read_max = 4096;
    }
    case
}

/// One to four pipelined requests (with chaos from kind 45, damaged from kind 65).
fn requests(rng: &mut Rng, fx: &Fixture, case: &mut Case, kind: usize) {
    let chaos = kind >= 45;
    let mut expects = Some(Vec::new());
    for _ in 0..1 + rng.below(4) {
        let req = gen_request(rng, fx, &case.setup.limits, chaos);
        if req.expect.is_some() {
            case.disagreements.extend(disagreement(&req, &case.setup.limits));
        }
        match (&mut expects, req.expect) {
            (Some(list), Some(e)) => list.push(e),
            _ => expects = None,
        }
        case.input.extend_from_slice(&req.bytes);
    }
    if kind >= 65 {
        chaos::damage(rng, &mut case.input);
        expects = None;
    }
    case.expect = expects;
}

/// How `request::parse` disagrees with the generator about a well-formed head, if it does.
fn disagreement(req: &GenRequest, limits: &Limits) -> Option<String> {
    let head = &req.bytes[..req.head_len];
    match evserve::http1::request::parse(head, limits) {
        Ok(Some((_, n))) if n == req.head_len => None,
        other => Some(format!("well-formed head {} parsed as {other:?}", head.escape_ascii())),
    }
}
