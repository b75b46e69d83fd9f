//! A request's header list checked against RFC 9113 §8.2 and §8.3 and turned into a small
//! owned struct: the four request pseudo-headers and the regular fields in order.
//!
//! Every rule broken here makes the request malformed (§8.1.1), a stream error of type
//! PROTOCOL_ERROR: the connection and its HPACK state are unaffected. The one exception is a
//! well-formed CONNECT, which a static-file server does not tunnel: it is refused
//! (REFUSED_STREAM), not malformed. Trailers go through the same field rules but may carry no
//! pseudo-header (§8.1).
//!
//! It keeps no cookies specially and interprets no field but `content-length` (which the
//! connection checks against the DATA received, §8.1.1) and `host` (which must agree with
//! `:authority`, §8.3.1).

use super::ErrorCode;
use super::hpack::decoder::Header;

/// A request as the client sent it: pseudo-headers split out, regular fields in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// `:method`, e.g. `GET`.
    pub method: Vec<u8>,
    /// `:scheme`, e.g. `https`.
    pub scheme: Vec<u8>,
    /// `:authority`, when sent (the HTTP/1.1 `host` equivalent; `host` may be sent instead).
    pub authority: Option<Vec<u8>>,
    /// `:path`: never empty.
    pub path: Vec<u8>,
    /// The regular fields, lowercase names, in the order received (repeats kept).
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
    /// `content-length`, when sent (every copy agreed).
    pub content_length: Option<u64>,
}

impl Request {
    /// The first value of field `name` (lowercase), if any.
    pub fn field(&self, name: &[u8]) -> Option<&[u8]> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    /// Every value of field `name` (lowercase), in order.
    pub fn fields_named<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields.iter().filter(move |(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    /// The request's authority: `:authority`, else the `host` field (§8.3.1).
    pub fn host(&self) -> Option<&[u8]> {
        self.authority.as_deref().or_else(|| self.field(b"host"))
    }
}

/// Why a header list is not an acceptable request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// A field name is empty, has an uppercase letter or a character no token allows (§8.2.1).
    BadName,
    /// A field value has NUL, CR or LF, or starts or ends with whitespace (§8.2.1).
    BadValue,
    /// A pseudo-header that requests do not have (`:status`, `:protocol`, anything else).
    UnknownPseudo,
    /// A pseudo-header after a regular field (§8.3).
    PseudoAfterRegular,
    /// A pseudo-header twice (§8.3.1).
    DuplicatePseudo,
    /// `:method`, `:scheme` or `:path` is missing or empty (§8.3.1).
    MissingPseudo,
    /// A connection-specific field, or `te` other than `trailers` (§8.2.2).
    ConnectionSpecific,
    /// `content-length` is not a number, or its copies disagree.
    BadContentLength,
    /// `host` names another authority than `:authority` (§8.3.1).
    HostMismatch,
    /// Trailers carry a pseudo-header (§8.1).
    PseudoInTrailers,
    /// A CONNECT request: well-formed, but we tunnel nothing.
    Connect,
}

impl Malformed {
    /// The RST_STREAM code: REFUSED_STREAM for CONNECT, PROTOCOL_ERROR for the rest (§8.1.1).
    pub fn code(self) -> ErrorCode {
        match self {
            Malformed::Connect => ErrorCode::RefusedStream,
            _ => ErrorCode::ProtocolError,
        }
    }
}

/// Fields that only make sense hop by hop in HTTP/1.1 and are malformed in HTTP/2 (§8.2.2).
const CONNECTION_SPECIFIC: [&[u8]; 5] =
    [b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"];

/// §8.2.1: a name is a token (RFC 9110 §5.1) without uppercase; we check the RFC's minimum
/// (no controls, space, DEL, high bytes, uppercase, and no colon but a pseudo-header's first
/// byte) plus the separators a token cannot hold.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| NAME_BYTE[usize::from(b)])
}

/// The bytes `valid_name` allows, one lookup per byte.
static NAME_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let separator = matches!(c, b'"' | b'(' | b')' | b',' | b'/' | b':' | b';' | b'<' | b'=' | b'>' | b'?')
            || matches!(c, b'@' | b'[' | b'\\' | b']' | b'{' | b'}');
        table[b] = c.is_ascii_graphic() && !c.is_ascii_uppercase() && !separator;
        b += 1;
    }
    table
};

/// §8.2.1: no NUL, CR or LF anywhere, no leading or trailing space or tab.
fn valid_value(value: &[u8]) -> bool {
    let edge = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    !value.iter().any(|&b| VALUE_BAD[usize::from(b)]) && !edge(value.first()) && !edge(value.last())
}

/// The bytes no value may hold: NUL, CR, LF.
static VALUE_BAD: [bool; 256] = {
    let mut table = [false; 256];
    table[0] = true;
    table[b'\r' as usize] = true;
    table[b'\n' as usize] = true;
    table
};

/// A decimal content-length: digits only, no sign, no overflow.
fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d < 10)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// Checks one regular field; records `content-length`.
fn check_regular(name: &[u8], value: &[u8], content_length: &mut Option<u64>) -> Result<(), Malformed> {
    if !valid_name(name) {
        return Err(Malformed::BadName);
    }
    if !valid_value(value) {
        return Err(Malformed::BadValue);
    }
    if CONNECTION_SPECIFIC.contains(&name) || (name == b"te" && !value.eq_ignore_ascii_case(b"trailers")) {
        return Err(Malformed::ConnectionSpecific);
    }
    if name == b"content-length" {
        let n = parse_length(value).ok_or(Malformed::BadContentLength)?;
        if content_length.is_some_and(|old| old != n) {
            return Err(Malformed::BadContentLength);
        }
        *content_length = Some(n);
    }
    Ok(())
}

/// Checks a request's header list (§8.3) and splits it into a `Request`.
pub fn parse_request(list: Vec<Header>) -> Result<Request, Malformed> {
    let mut request = Request::default();
    let (mut method, mut scheme, mut path) = (None, None, None);
    let mut regular_seen = false;
    for Header { name, value, .. } in list {
        if let Some(pseudo) = name.strip_prefix(b":") {
            if regular_seen {
                return Err(Malformed::PseudoAfterRegular);
            }
            if !valid_value(&value) {
                return Err(Malformed::BadValue);
            }
            let slot = match pseudo {
                b"method" => &mut method,
                b"scheme" => &mut scheme,
                b"path" => &mut path,
                b"authority" => &mut request.authority,
                _ => return Err(Malformed::UnknownPseudo),
            };
            if slot.replace(value).is_some() {
                return Err(Malformed::DuplicatePseudo);
            }
            continue;
        }
        regular_seen = true;
        check_regular(&name, &value, &mut request.content_length)?;
        request.fields.push((name, value));
    }
    if method.as_deref() == Some(b"CONNECT") {
        // §8.5: a CONNECT has :authority and neither :scheme nor :path; either way we refuse.
        return Err(if scheme.is_none() && path.is_none() { Malformed::Connect } else { Malformed::MissingPseudo });
    }
    let nonempty = |v: Option<Vec<u8>>| v.filter(|v| !v.is_empty()).ok_or(Malformed::MissingPseudo);
    request.method = nonempty(method)?;
    request.scheme = nonempty(scheme)?;
    request.path = nonempty(path)?;
    if let (Some(authority), Some(host)) = (request.authority.as_deref(), request.field(b"host"))
        && !authority.eq_ignore_ascii_case(host)
    {
        return Err(Malformed::HostMismatch);
    }
    Ok(request)
}

/// Checks trailers (§8.1): regular fields only, same rules. A `content-length` there is
/// checked for form only: the body's length was settled by the headers.
pub fn check_trailers(list: &[Header]) -> Result<(), Malformed> {
    let mut content_length = None;
    for h in list {
        if h.name.starts_with(b":") {
            return Err(Malformed::PseudoInTrailers);
        }
        check_regular(&h.name, &h.value, &mut content_length)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(fields: &[(&str, &str)]) -> Vec<Header> {
        fields
            .iter()
            .map(|(n, v)| Header { name: n.as_bytes().to_vec(), value: v.as_bytes().to_vec(), sensitive: false })
            .collect()
    }

    const GET: [(&str, &str); 4] =
        [(":method", "GET"), (":scheme", "https"), (":authority", "a.example"), (":path", "/")];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        GET.iter().chain(extra).copied().collect()
    }

    #[test]
    fn a_valid_request_splits_into_pseudo_and_regular_fields() {
        let r = parse_request(list(&with(&[
            ("accept", "*/*"),
            ("range", "bytes=0-1"),
            ("cookie", "a=1"),
            ("cookie", "b=2"),
            ("te", "trailers"),
            ("content-length", "0"),
            ("host", "A.example"),
        ])))
        .unwrap();
        assert_eq!(r.method, b"GET");
        assert_eq!(r.scheme, b"https");
        assert_eq!(r.authority.as_deref(), Some(&b"a.example"[..]));
        assert_eq!(r.path, b"/");
        assert_eq!(r.field(b"range"), Some(&b"bytes=0-1"[..]));
        assert_eq!(r.fields_named(b"cookie").collect::<Vec<_>>(), [&b"a=1"[..], b"b=2"]);
        assert_eq!(r.content_length, Some(0));
        assert_eq!(r.host(), Some(&b"a.example"[..]));
        let no_authority =
            parse_request(list(&[(":method", "HEAD"), (":scheme", "http"), (":path", "/x"), ("host", "h")])).unwrap();
        assert_eq!((no_authority.authority.as_deref(), no_authority.host()), (None, Some(&b"h"[..])));
    }

    #[test]
    fn each_rule_makes_the_request_malformed() {
        use Malformed::*;
        type Case = (&'static str, Vec<(&'static str, &'static str)>, Malformed);
        let cases: Vec<Case> = vec![
            ("no method", vec![(":scheme", "https"), (":path", "/")], MissingPseudo),
            ("no scheme", vec![(":method", "GET"), (":path", "/")], MissingPseudo),
            ("no path", vec![(":method", "GET"), (":scheme", "https")], MissingPseudo),
            ("empty path", vec![(":method", "GET"), (":scheme", "https"), (":path", "")], MissingPseudo),
            (
                "two paths",
                vec![(":method", "GET"), (":path", "/a"), (":path", "/b"), (":scheme", "https")],
                DuplicatePseudo,
            ),
            ("two authorities", vec![(":authority", "a"), (":authority", "a"), (":method", "GET")], DuplicatePseudo),
            ("status", with(&[(":status", "200")]), UnknownPseudo),
            ("protocol", with(&[(":protocol", "websocket")]), UnknownPseudo),
            ("pseudo after regular", vec![(":method", "GET"), ("accept", "*/*"), (":path", "/")], PseudoAfterRegular),
            ("uppercase name", with(&[("Accept", "*/*")]), BadName),
            ("space in name", with(&[("acc ept", "*/*")]), BadName),
            ("colon in name", with(&[("a:b", "x")]), BadName),
            ("empty name", with(&[("", "x")]), BadName),
            ("newline in value", with(&[("accept", "a\nb")]), BadValue),
            ("nul in value", with(&[("accept", "a\0b")]), BadValue),
            ("leading space", with(&[("accept", " a")]), BadValue),
            ("trailing tab", with(&[("accept", "a\t")]), BadValue),
            ("cr in path", vec![(":method", "GET"), (":scheme", "https"), (":path", "/\r")], BadValue),
            ("connection", with(&[("connection", "keep-alive")]), ConnectionSpecific),
            ("keep-alive", with(&[("keep-alive", "5")]), ConnectionSpecific),
            ("proxy-connection", with(&[("proxy-connection", "x")]), ConnectionSpecific),
            ("transfer-encoding", with(&[("transfer-encoding", "chunked")]), ConnectionSpecific),
            ("upgrade", with(&[("upgrade", "h2c")]), ConnectionSpecific),
            ("te gzip", with(&[("te", "gzip")]), ConnectionSpecific),
            ("content-length text", with(&[("content-length", "ten")]), BadContentLength),
            ("content-length signed", with(&[("content-length", "+1")]), BadContentLength),
            ("content-length empty", with(&[("content-length", "")]), BadContentLength),
            ("content-length huge", with(&[("content-length", "99999999999999999999")]), BadContentLength),
            ("content-lengths disagree", with(&[("content-length", "1"), ("content-length", "2")]), BadContentLength),
            ("host differs", with(&[("host", "b.example")]), HostMismatch),
            ("connect", vec![(":method", "CONNECT"), (":authority", "a:443")], Connect),
            ("connect with path", vec![(":method", "CONNECT"), (":authority", "a:443"), (":path", "/")], MissingPseudo),
        ];
        for (name, fields, want) in cases {
            assert_eq!(parse_request(list(&fields)), Err(want), "{name}");
        }
        assert_eq!(Connect.code(), ErrorCode::RefusedStream);
        assert_eq!(BadName.code(), ErrorCode::ProtocolError);
    }

    #[test]
    fn the_byte_tables_match_the_rules() {
        for b in 0..=255u8 {
            let name = b.is_ascii_graphic() && !b.is_ascii_uppercase() && !b"\"(),/:;<=>?@[\\]{}".contains(&b);
            assert_eq!(valid_name(&[b]), name, "{b:#04x}");
            assert_eq!(valid_value(&[b'a', b, b'a']), !matches!(b, 0 | b'\r' | b'\n'), "{b:#04x}");
        }
    }

    #[test]
    fn trailers_take_regular_fields_only() {
        assert_eq!(check_trailers(&list(&[("x-checksum", "abc")])), Ok(()));
        assert_eq!(check_trailers(&list(&[(":path", "/")])), Err(Malformed::PseudoInTrailers));
        assert_eq!(check_trailers(&list(&[("X", "1")])), Err(Malformed::BadName));
        assert_eq!(check_trailers(&list(&[("transfer-encoding", "chunked")])), Err(Malformed::ConnectionSpecific));
    }
}
