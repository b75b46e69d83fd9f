//! A request's header list checked against RFC 9113 §8.2 and §8.3 and turned into a small
//! `Request` over the decoded list itself: the four request pseudo-headers found, the regular
//! fields in order.
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
use super::hpack::decoder::{Field, HeaderList, Span};

/// A request as the client sent it: the decoded header list, with the pseudo-headers found
/// (they all come first) and the regular fields after them, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    list: HeaderList,
    method: Span,
    scheme: Span,
    authority: Option<Span>,
    path: Span,
    /// Where the regular fields start in the list.
    regular: usize,
    /// `content-length`, when sent (every copy agreed).
    pub content_length: Option<u64>,
}

impl Request {
    /// `:method`, e.g. `GET`.
    pub fn method(&self) -> &[u8] {
        self.method.of(self.list.bytes())
    }

    /// `:scheme`, e.g. `https`.
    pub fn scheme(&self) -> &[u8] {
        self.scheme.of(self.list.bytes())
    }

    /// `:authority`, when sent (the HTTP/1.1 `host` equivalent; `host` may be sent instead).
    pub fn authority(&self) -> Option<&[u8]> {
        self.authority.map(|a| a.of(self.list.bytes()))
    }

    /// `:path`: never empty.
    pub fn path(&self) -> &[u8] {
        self.path.of(self.list.bytes())
    }

    /// The regular fields, lowercase names, in the order received (repeats kept).
    pub fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.list.iter().skip(self.regular)
    }

    /// The first value of field `name` (lowercase), if any.
    pub fn field(&self, name: &[u8]) -> Option<&[u8]> {
        self.fields().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Every value of field `name` (lowercase), in order.
    pub fn fields_named<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields().filter(move |(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The request's authority: `:authority`, else the `host` field (§8.3.1).
    pub fn host(&self) -> Option<&[u8]> {
        self.authority().or_else(|| self.field(b"host"))
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

/// What the regular fields said that the request keeps: `content-length` (every copy
/// agreeing) and the first `host`.
#[derive(Default)]
struct Found {
    content_length: Option<u64>,
    host: Option<Span>,
}

/// Checks one regular field (its character rules by the decoder's verdict, `field`); notes
/// what `Found` keeps. One match on the name for every rule that names a field.
fn check_regular(field: &Field, bytes: &[u8], found: &mut Found) -> Result<(), Malformed> {
    if !field.checked.name {
        return Err(Malformed::BadName);
    }
    if !field.checked.value {
        return Err(Malformed::BadValue);
    }
    let value = field.value.of(bytes);
    match field.name.of(bytes) {
        // Hop by hop in HTTP/1.1, malformed in HTTP/2 (§8.2.2), as is `te` but `trailers`.
        b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding" | b"upgrade" => {
            return Err(Malformed::ConnectionSpecific);
        }
        b"te" if !value.eq_ignore_ascii_case(b"trailers") => return Err(Malformed::ConnectionSpecific),
        b"content-length" => {
            let n = parse_length(value).ok_or(Malformed::BadContentLength)?;
            if found.content_length.is_some_and(|old| old != n) {
                return Err(Malformed::BadContentLength);
            }
            found.content_length = Some(n);
        }
        b"host" if found.host.is_none() => found.host = Some(field.value),
        _ => {}
    }
    Ok(())
}

/// Checks a request's header list (§8.3) and makes it a `Request`.
pub fn parse_request(list: HeaderList) -> Result<Request, Malformed> {
    let (mut method, mut scheme, mut path, mut authority) = (None, None, None, None);
    let mut found = Found::default();
    let mut regular = None;
    let bytes = list.bytes();
    for (i, field) in list.fields().iter().enumerate() {
        if let Some(pseudo) = field.name.of(bytes).strip_prefix(b":") {
            if regular.is_some() {
                return Err(Malformed::PseudoAfterRegular);
            }
            if !field.checked.value {
                return Err(Malformed::BadValue);
            }
            let slot = match pseudo {
                b"method" => &mut method,
                b"scheme" => &mut scheme,
                b"path" => &mut path,
                b"authority" => &mut authority,
                _ => return Err(Malformed::UnknownPseudo),
            };
            if slot.replace(field.value).is_some() {
                return Err(Malformed::DuplicatePseudo);
            }
            continue;
        }
        regular.get_or_insert(i);
        check_regular(field, bytes, &mut found)?;
    }
    if method.map(|m| m.of(bytes)) == Some(b"CONNECT") {
        // §8.5: a CONNECT has :authority and neither :scheme nor :path; either way we refuse.
        return Err(if scheme.is_none() && path.is_none() { Malformed::Connect } else { Malformed::MissingPseudo });
    }
    let nonempty = |v: Option<Span>| v.filter(|v| !v.of(bytes).is_empty()).ok_or(Malformed::MissingPseudo);
    let (method, scheme, path) = (nonempty(method)?, nonempty(scheme)?, nonempty(path)?);
    if let (Some(authority), Some(host)) = (authority, found.host)
        && !authority.of(bytes).eq_ignore_ascii_case(host.of(bytes))
    {
        return Err(Malformed::HostMismatch);
    }
    let regular = regular.unwrap_or(list.len());
    Ok(Request { list, method, scheme, authority, path, regular, content_length: found.content_length })
}

/// Checks trailers (§8.1): regular fields only, same rules. A `content-length` there is
/// checked for form only: the body's length was settled by the headers.
pub fn check_trailers(list: &HeaderList) -> Result<(), Malformed> {
    let mut found = Found::default();
    for field in list.fields() {
        if field.name.of(list.bytes()).starts_with(b":") {
            return Err(Malformed::PseudoInTrailers);
        }
        check_regular(field, list.bytes(), &mut found)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(fields: &[(&str, &str)]) -> HeaderList {
        let mut list = HeaderList::default();
        for (n, v) in fields {
            list.push(n.as_bytes(), v.as_bytes(), false);
        }
        list
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
        assert_eq!(r.method(), b"GET");
        assert_eq!(r.scheme(), b"https");
        assert_eq!(r.authority(), Some(&b"a.example"[..]));
        assert_eq!(r.path(), b"/");
        assert_eq!(r.fields().count(), 7);
        assert_eq!(r.field(b"range"), Some(&b"bytes=0-1"[..]));
        assert_eq!(r.fields_named(b"cookie").collect::<Vec<_>>(), [&b"a=1"[..], b"b=2"]);
        assert_eq!(r.content_length, Some(0));
        assert_eq!(r.host(), Some(&b"a.example"[..]));
        let no_authority =
            parse_request(list(&[(":method", "HEAD"), (":scheme", "http"), (":path", "/x"), ("host", "h")])).unwrap();
        assert_eq!((no_authority.authority(), no_authority.host()), (None, Some(&b"h"[..])));
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
    fn a_bad_field_sent_again_by_index_is_still_refused() {
        use super::super::hpack::decoder::Decoder;
        let mut decoder = Decoder::new();
        // :method GET, :scheme http, :path /, then a literal entering the table, then by index.
        let mut first = vec![0x82, 0x86, 0x84, 0x40, 4];
        first.extend_from_slice(b"X-Up\x01a");
        assert_eq!(parse_request(decoder.decode_list(&first).unwrap()), Err(Malformed::BadName));
        let again = [0x82, 0x86, 0x84, 0x80 | 62];
        assert_eq!(parse_request(decoder.decode_list(&again).unwrap()), Err(Malformed::BadName));
        let mut value = vec![0x82, 0x86, 0x84, 0x40, 4];
        value.extend_from_slice(b"x-nl\x03a\nb");
        assert_eq!(parse_request(decoder.decode_list(&value).unwrap()), Err(Malformed::BadValue));
        assert_eq!(parse_request(decoder.decode_list(&again).unwrap()), Err(Malformed::BadValue));
        // A good one by index passes; a bad pseudo-header value by literal does not.
        let mut good = vec![0x82, 0x86, 0x84, 0x40, 1];
        good.extend_from_slice(b"a\x01b");
        assert!(parse_request(decoder.decode_list(&good).unwrap()).is_ok());
        assert!(parse_request(decoder.decode_list(&again).unwrap()).is_ok());
        let bad_path = [0x82, 0x86, 0x04, 2, b'/', b'\r'];
        assert_eq!(parse_request(decoder.decode_list(&bad_path).unwrap()), Err(Malformed::BadValue));
    }

    #[test]
    fn trailers_take_regular_fields_only() {
        assert_eq!(check_trailers(&list(&[("x-checksum", "abc")])), Ok(()));
        assert_eq!(check_trailers(&list(&[(":path", "/")])), Err(Malformed::PseudoInTrailers));
        assert_eq!(check_trailers(&list(&[("X", "1")])), Err(Malformed::BadName));
        assert_eq!(check_trailers(&list(&[("transfer-encoding", "chunked")])), Err(Malformed::ConnectionSpecific));
    }
}
