//! The PROXY protocol header (HAProxy's proxy-protocol.txt, v1 text and v2 binary) that a load
//! balancer (HAProxy, AWS NLB) sends before the first byte of the client's data, so that the
//! server learns the client's address although the TCP peer is the balancer.
//!
//! `parse` is pure and allocation-free: bytes in, a header and its length out. It is strict
//! because the header is the one thing that decides whose address we log and trust: a
//! connection that should carry one and does not, or carries a malformed one, is closed. It
//! fails on the first byte that cannot start a header, so a client that skips the balancer and
//! sends `GET /` is refused at once instead of waiting for a header timeout.
//!
//! Choices the spec leaves open:
//! - v1: addresses are parsed by std, which refuses leading zeros, octal and short IPv4 forms;
//!   IPv6 may be written in any form std accepts (senders differ on `::` and case). Ports are
//!   plain decimal, no sign, no leading zero. After `UNKNOWN` the spec says to ignore the rest
//!   of the line: we ignore it, but it must be printable ASCII.
//! - v2: the whole header is at most `MAX_V2_HEADER` bytes so it fits in one small input
//!   buffer (1 KiB). TLVs after the addresses are skipped, but must chain exactly to the end.
//!   A LOCAL header's block is skipped unread (the spec says its family is ignored).
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The v2 signature: twelve bytes no text protocol starts with.
pub const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// The longest v1 line, CRLF included: the spec's worst case,
/// `PROXY UNKNOWN <39 chars> <39 chars> 65535 65535\r\n`.
pub const V1_MAX_LINE: usize = 107;

/// The longest v2 header we take, its 16 fixed bytes included: one small input buffer. That
/// holds the largest address block (AF_UNIX, 216 bytes) plus 792 bytes of TLVs.
pub const MAX_V2_HEADER: usize = 1024;

const V1_SIGNATURE: &[u8] = b"PROXY";

/// What the balancer says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// A relayed connection: `source` is the client, `destination` the address it connected to.
    Proxied { source: SocketAddr, destination: SocketAddr },
    /// The balancer's own connection (v2 LOCAL, e.g. a health check): the peer is the client.
    Local,
    /// A relayed connection whose addresses are not IP (v1 `UNKNOWN`, v2 AF_UNSPEC or
    /// AF_UNIX): as the spec says, keep the connection's own peer.
    Unknown,
}

impl Header {
    /// The client address to use instead of the TCP peer, if the header gives one.
    pub fn source(&self) -> Option<SocketAddr> {
        match *self {
            Header::Proxied { source, .. } => Some(source),
            Header::Local | Header::Unknown => None,
        }
    }
}

/// A malformed (or oversized) header; the connection must be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyError(pub &'static str);

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad PROXY protocol header: {}", self.0)
    }
}

/// Parses the PROXY header at the front of `buf`.
///
/// `Ok(None)`: what is there is a valid beginning of a header: read more.
/// `Ok(Some((header, n)))`: `buf[..n]` is the header; the client's data follows it.
/// `Err`: no header can start with these bytes.
pub fn parse(buf: &[u8]) -> Result<Option<(Header, usize)>, ProxyError> {
    match buf.first() {
        None => Ok(None),
        Some(b'P') => parse_v1(buf),
        Some(b'\r') => parse_v2(buf),
        Some(_) => Err(ProxyError("no PROXY signature")),
    }
}

/// v1: `PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n` or `PROXY UNKNOWN[ ...]\r\n`.
fn parse_v1(buf: &[u8]) -> Result<Option<(Header, usize)>, ProxyError> {
    let window = &buf[..buf.len().min(V1_MAX_LINE)];
    match window.iter().position(|&b| b == b'\n') {
        Some(lf) => {
            let line = window[..lf].strip_suffix(b"\r").ok_or(ProxyError("v1 line ends without CR"))?;
            Ok(Some((parse_v1_line(line)?, lf + 1)))
        }
        None if window.len() == V1_MAX_LINE => Err(ProxyError("v1 line too long")),
        None => check_v1_prefix(window).map(|()| None),
    }
}

/// A whole v1 line, CRLF removed.
fn parse_v1_line(line: &[u8]) -> Result<Header, ProxyError> {
    let mut fields = line.split(|&b| b == b' ');
    if fields.next() != Some(V1_SIGNATURE) {
        return Err(ProxyError("v1 signature"));
    }
    let proto = fields.next().ok_or(ProxyError("v1 protocol missing"))?;
    if proto == b"UNKNOWN" {
        return match line.iter().all(|b| (b' '..=b'~').contains(b)) {
            true => Ok(Header::Unknown),
            false => Err(ProxyError("v1 control byte after UNKNOWN")),
        };
    }
    let family = V1Family::from_token(proto).ok_or(ProxyError("v1 protocol not TCP4, TCP6 or UNKNOWN"))?;
    let (Some(src), Some(dst), Some(sport), Some(dport), None) =
        (fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(ProxyError("v1 needs exactly two addresses and two ports"));
    };
    let address = |text, port| -> Result<SocketAddr, ProxyError> {
        let ip = family.address(text).ok_or(ProxyError("v1 address"))?;
        Ok(SocketAddr::new(ip, v1_port(port).ok_or(ProxyError("v1 port"))?))
    };
    Ok(Header::Proxied { source: address(src, sport)?, destination: address(dst, dport)? })
}

/// A v1 line still arriving (no LF yet): every field so far must be valid, and the last,
/// unfinished one must still be able to become valid. An unfinished address is only checked
/// for its characters and length; it is parsed when the space after it arrives.
fn check_v1_prefix(partial: &[u8]) -> Result<(), ProxyError> {
    if let Some(line) = partial.strip_suffix(b"\r") {
        return parse_v1_line(line).map(drop);
    }
    let count = partial.split(|&b| b == b' ').count();
    let mut family = None;
    for (i, field) in partial.split(|&b| b == b' ').enumerate() {
        let done = i + 1 < count; // a space follows it
        let literal = |word: &[u8]| if done { field == word } else { word.starts_with(field) };
        let ok = match (i, family) {
            (0, _) => literal(V1_SIGNATURE),
            (1, _) => {
                family = V1Family::from_token(field);
                literal(b"UNKNOWN") || literal(b"TCP4") || literal(b"TCP6")
            }
            (_, None) => field.iter().all(|b| (b' '..=b'~').contains(b)), // after UNKNOWN
            (2 | 3, Some(f)) if done => f.address(field).is_some(),
            (2 | 3, Some(f)) => field.len() <= f.max_len() && field.iter().all(|&b| f.may_hold(b)),
            (4 | 5, _) => (field.is_empty() && !done) || v1_port(field).is_some(),
            _ => false,
        };
        if !ok {
            return Err(ProxyError("v1 field"));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum V1Family {
    Tcp4,
    Tcp6,
}

impl V1Family {
    fn from_token(token: &[u8]) -> Option<V1Family> {
        match token {
            b"TCP4" => Some(V1Family::Tcp4),
            b"TCP6" => Some(V1Family::Tcp6),
            _ => None,
        }
    }

    fn address(self, text: &[u8]) -> Option<IpAddr> {
        let text = std::str::from_utf8(text).ok()?;
        match self {
            V1Family::Tcp4 => text.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
            V1Family::Tcp6 => text.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        }
    }

    /// `255.255.255.255`, `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`.
    fn max_len(self) -> usize {
        match self {
            V1Family::Tcp4 => 15,
            V1Family::Tcp6 => 45,
        }
    }

    fn may_hold(self, b: u8) -> bool {
        match self {
            V1Family::Tcp4 => b.is_ascii_digit() || b == b'.',
            V1Family::Tcp6 => b.is_ascii_hexdigit() || b == b':' || b == b'.',
        }
    }
}

/// `0` to `65535`, digits only, no leading zero.
fn v1_port(text: &[u8]) -> Option<u16> {
    let canonical = matches!(text, [b'1'..=b'9', ..] | b"0") && text.iter().all(u8::is_ascii_digit);
    if !canonical {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

const V2_LOCAL: u8 = 0x20;
const V2_PROXY: u8 = 0x21;

/// v2: signature, version+command, family+protocol, big-endian length, then that many bytes:
/// the addresses, then TLVs.
fn parse_v2(buf: &[u8]) -> Result<Option<(Header, usize)>, ProxyError> {
    let seen = buf.len().min(V2_SIGNATURE.len());
    if buf[..seen] != V2_SIGNATURE[..seen] {
        return Err(ProxyError("no PROXY signature"));
    }
    let Some(&command) = buf.get(12) else { return Ok(None) };
    if command != V2_LOCAL && command != V2_PROXY {
        return Err(ProxyError("v2 version or command"));
    }
    let Some(&family) = buf.get(13) else { return Ok(None) };
    let address_len = match (command, family) {
        (V2_LOCAL, _) => 0,
        (_, 0x00) => 0,   // AF_UNSPEC, UNSPEC
        (_, 0x11) => 12,  // AF_INET, STREAM
        (_, 0x21) => 36,  // AF_INET6, STREAM
        (_, 0x31) => 216, // AF_UNIX, STREAM
        _ => return Err(ProxyError("v2 family or protocol")),
    };
    let Some(&[hi, lo]) = buf.get(14..16) else { return Ok(None) };
    let total = 16 + usize::from(u16::from_be_bytes([hi, lo]));
    if total > MAX_V2_HEADER {
        return Err(ProxyError("v2 header too long"));
    }
    if total < 16 + address_len {
        return Err(ProxyError("v2 length shorter than the addresses"));
    }
    let Some(block) = buf.get(16..total) else { return Ok(None) };
    let (addresses, tlvs) = block.split_at(address_len);
    let header = match (command, family) {
        (V2_LOCAL, _) => return Ok(Some((Header::Local, total))),
        (_, 0x00) => return Ok(Some((Header::Unknown, total))), // addresses "ignored": skip it all
        (_, 0x11) => v2_inet(addresses),
        (_, 0x21) => v2_inet6(addresses),
        _ => Header::Unknown,
    };
    check_tlvs(tlvs)?;
    Ok(Some((header, total)))
}

/// `src(4) dst(4) sport(2) dport(2)`, network order.
fn v2_inet(a: &[u8]) -> Header {
    let ip = |at: usize| IpAddr::from(<[u8; 4]>::try_from(&a[at..at + 4]).expect("4 bytes"));
    let port = |at: usize| u16::from_be_bytes([a[at], a[at + 1]]);
    Header::Proxied { source: SocketAddr::new(ip(0), port(8)), destination: SocketAddr::new(ip(4), port(10)) }
}

/// `src(16) dst(16) sport(2) dport(2)`, network order.
fn v2_inet6(a: &[u8]) -> Header {
    let ip = |at: usize| IpAddr::from(<[u8; 16]>::try_from(&a[at..at + 16]).expect("16 bytes"));
    let port = |at: usize| u16::from_be_bytes([a[at], a[at + 1]]);
    Header::Proxied { source: SocketAddr::new(ip(0), port(32)), destination: SocketAddr::new(ip(16), port(34)) }
}

/// Each TLV is `type(1) length(2, big-endian) value(length)`; they must end exactly at the
/// end of the header. None of them changes what we do, so their values are not read.
fn check_tlvs(mut tlvs: &[u8]) -> Result<(), ProxyError> {
    while let [_kind, hi, lo, rest @ ..] = tlvs {
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        tlvs = rest.get(len..).ok_or(ProxyError("v2 TLV overruns the header"))?;
    }
    match tlvs.is_empty() {
        true => Ok(()),
        false => Err(ProxyError("v2 TLV truncated")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn proxied(src: &str, dst: &str) -> Header {
        Header::Proxied { source: addr(src), destination: addr(dst) }
    }

    /// A v2 header: the fixed 16 bytes for `command`/`family`, then `block`.
    fn v2(command: u8, family: u8, block: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.extend([command, family]);
        h.extend(u16::try_from(block.len()).unwrap().to_be_bytes());
        h.extend(block);
        h
    }

    /// 192.168.0.1:56324 -> 192.168.0.11:443.
    const INET_BLOCK: [u8; 12] = [192, 168, 0, 1, 192, 168, 0, 11, 0xdc, 0x04, 0x01, 0xbb];

    fn inet6_block() -> Vec<u8> {
        let mut b = "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets().to_vec();
        b.extend("2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        b.extend([0xdc, 0x04, 0x01, 0xbb]);
        b
    }

    const V1_TCP4: &[u8] = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
    const V1_TCP6: &[u8] = b"PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n";
    const V1_WORST: &[u8] = b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff \
        ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";

    /// Valid headers of every kind, with what they parse to.
    fn valid() -> Vec<(Vec<u8>, Header)> {
        let mut tlvs = INET_BLOCK.to_vec();
        tlvs.extend([0xea, 0x00, 0x05, 0x01, b'v', b'p', b'c', b'e']); // AWS VPC endpoint id
        tlvs.extend([0x04, 0x00, 0x00]); // NOOP, empty
        vec![
            (V1_TCP4.to_vec(), proxied("192.168.0.1:56324", "192.168.0.11:443")),
            (V1_TCP6.to_vec(), proxied("[2001:db8::1]:56324", "[2001:db8::2]:443")),
            (b"PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n".to_vec(), proxied("0.0.0.0:0", "255.255.255.255:65535")),
            (b"PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n".to_vec(), proxied("[::ffff:1.2.3.4]:1", "[::1]:2")),
            (b"PROXY UNKNOWN\r\n".to_vec(), Header::Unknown),
            (V1_WORST.to_vec(), Header::Unknown),
            (v2(V2_PROXY, 0x11, &INET_BLOCK), proxied("192.168.0.1:56324", "192.168.0.11:443")),
            (v2(V2_PROXY, 0x21, &inet6_block()), proxied("[2001:db8::1]:56324", "[2001:db8::2]:443")),
            (v2(V2_PROXY, 0x11, &tlvs), proxied("192.168.0.1:56324", "192.168.0.11:443")),
            (v2(V2_PROXY, 0x31, &[0; 216]), Header::Unknown),
            (v2(V2_PROXY, 0x00, &[]), Header::Unknown),
            (v2(V2_PROXY, 0x00, &[1, 2, 3]), Header::Unknown),
            (v2(V2_LOCAL, 0x00, &[]), Header::Local),
            (v2(V2_LOCAL, 0x11, &INET_BLOCK), Header::Local),
            (v2(V2_LOCAL, 0xff, &[9; 5]), Header::Local),
        ]
    }

    fn err(buf: &[u8]) -> bool {
        parse(buf).is_err()
    }

    #[test]
    fn valid_headers_parse_and_stop_where_the_client_data_starts() {
        for (header, want) in valid() {
            let mut buf = header.clone();
            buf.extend(b"GET / HTTP/1.1\r\n\r\n");
            assert_eq!(parse(&buf), Ok(Some((want, header.len()))), "{:?}", String::from_utf8_lossy(&header));
        }
    }

    #[test]
    fn the_spec_worst_case_v1_line_is_exactly_the_limit() {
        assert_eq!(V1_WORST.len(), V1_MAX_LINE);
        let mut longer = V1_WORST.to_vec();
        longer.insert(6, b'X');
        assert!(err(&longer));
        assert!(err(&longer[..V1_MAX_LINE]), "107 bytes and no LF is already too long");
    }

    #[test]
    fn every_prefix_of_a_valid_header_needs_more_bytes() {
        for (header, _) in valid() {
            for n in 0..header.len() {
                assert_eq!(parse(&header[..n]), Ok(None), "{:?}", String::from_utf8_lossy(&header[..n]));
            }
        }
    }

    #[test]
    fn a_missing_header_is_refused_on_its_first_differing_byte() {
        assert!(err(b"G"));
        assert!(err(b"GET / HTTP/1.1\r\n"));
        assert!(err(b"\x16\x03\x01")); // TLS
        assert!(err(b"PROXZ"));
        assert!(err(b"proxy"));
        for i in 1..V2_SIGNATURE.len() {
            let mut sig = V2_SIGNATURE[..=i].to_vec();
            sig[i] ^= 0x40;
            assert!(err(&sig), "signature byte {i}");
        }
        assert!(err(b"\r\n\r\nGET")); // CRLFs before a request: not v2
    }

    #[test]
    fn v1_fields_wrong_in_turn_are_refused() {
        let bad: &[&[u8]] = &[
            b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n",     // bare LF
            b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\r\n", // CR CR LF
            b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 \r\n",  // trailing space
            b"PROXY  TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",  // double space
            b"PROXY\tTCP4 192.168.0.1 192.168.0.11 56324 443\r\n",  // tab
            b" PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",  // leading space
            b"PROXY tcp4 192.168.0.1 192.168.0.11 56324 443\r\n",   // case
            b"PROXY TCP5 192.168.0.1 192.168.0.11 56324 443\r\n",   // protocol
            b"PROXY UDP4 192.168.0.1 192.168.0.11 56324 443\r\n",   // protocol
            b"PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n",       // a port missing
            b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 1\r\n", // a field too many
            b"PROXY TCP4 192.168.0.1 56324 443\r\n",                // an address missing
            b"PROXY TCP4 2001:db8::1 192.168.0.11 56324 443\r\n",   // v6 in TCP4
            b"PROXY TCP6 192.168.0.1 2001:db8::2 56324 443\r\n",    // v4 in TCP6
            b"PROXY TCP4 192.168.000.1 192.168.0.11 56324 443\r\n", // leading zeros
            b"PROXY TCP4 010.0.0.1 192.168.0.11 56324 443\r\n",     // octal-looking
            b"PROXY TCP4 0x7f.0.0.1 192.168.0.11 56324 443\r\n",    // hex
            b"PROXY TCP4 127.1 192.168.0.11 56324 443\r\n",         // short form
            b"PROXY TCP4 256.0.0.1 192.168.0.11 56324 443\r\n",     // octet range
            b"PROXY TCP4 192.168.0.1 192.168.0.11 +56324 443\r\n",  // sign
            b"PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n",  // leading zero
            b"PROXY TCP4 192.168.0.1 192.168.0.11 00 443\r\n",      // zeros
            b"PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n",   // range
            b"PROXY TCP4 192.168.0.1 192.168.0.11 -1 443\r\n",      // negative
            b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 0x1bb\r\n", // hex port
            b"PROXY TCP6 fe80::1%eth0 2001:db8::2 56324 443\r\n",   // scope id
            b"PROXY TCP6 [2001:db8::1] 2001:db8::2 56324 443\r\n",  // brackets
            b"PROXY TCP6 2001:db8:::1 2001:db8::2 56324 443\r\n",   // bad v6
            b"PROXY UNKNOWN\x00\r\n",                               // control byte
            b"PROXY UNKNOWN \x7f\r\n",                              // control byte
            b"PROXY UNKNOWNX\r\n",                                  // not UNKNOWN
            b"PROXY\r\n",
            b"PROXY \r\n",
        ];
        for line in bad {
            assert!(err(line), "accepted {:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn a_v1_line_that_went_wrong_is_refused_before_its_end() {
        let bad: &[&[u8]] = &[
            b"PROXY X",
            b"PROXY TCP4X",
            b"PROXY TCP4  ",
            b"PROXY TCP4 1.2.3.4x",
            b"PROXY TCP4 ::1",
            b"PROXY TCP4 1.2.3.4.5.6.7.8.9",
            b"PROXY TCP4 01.2.3.4 ",
            b"PROXY TCP6 g",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 65536",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
            b"PROXY UNKNOWN \x01",
        ];
        for partial in bad {
            assert!(err(partial), "waits on {:?}", String::from_utf8_lossy(partial));
        }
        // an unfinished address is checked for characters and length only
        assert_eq!(parse(b"PROXY TCP4 999.9"), Ok(None));
        assert_eq!(parse(b"PROXY TCP4 999.9 "), Err(ProxyError("v1 field")));
    }

    #[test]
    fn v2_fields_wrong_in_turn_are_refused() {
        let good = v2(V2_PROXY, 0x11, &INET_BLOCK);
        for command in (0..=255).filter(|&c| c != V2_LOCAL && c != V2_PROXY) {
            let mut h = good.clone();
            h[12] = command;
            assert!(err(&h[..13]), "command {command:#x}");
        }
        for family in (0..=255).filter(|f| ![0x00, 0x11, 0x21, 0x31].contains(f)) {
            let mut h = good.clone();
            h[13] = family;
            assert!(err(&h[..14]), "family {family:#x}"); // DGRAM (0x12) and unknown ones too
        }
        // the length must cover the family's addresses
        for (family, len) in [(0x11u8, 12u16), (0x21, 36), (0x31, 216)] {
            let short = [&V2_SIGNATURE[..], &[V2_PROXY, family], &(len - 1).to_be_bytes()].concat();
            assert!(err(&short), "family {family:#x} length {}", len - 1);
        }
        // and the cap
        let cap = u16::try_from(MAX_V2_HEADER - 16).unwrap();
        let over = [&V2_SIGNATURE[..], &[V2_PROXY, 0x11], &(cap + 1).to_be_bytes()].concat();
        assert!(err(&over), "refused on the length alone, before the bytes arrive");
        let mut at_cap = v2(V2_PROXY, 0x11, &INET_BLOCK);
        at_cap.extend([0x04]);
        at_cap.extend((cap - 12 - 3).to_be_bytes());
        at_cap.resize(MAX_V2_HEADER, 0);
        at_cap[14..16].copy_from_slice(&cap.to_be_bytes());
        assert_eq!(parse(&at_cap), Ok(Some((proxied("192.168.0.1:56324", "192.168.0.11:443"), MAX_V2_HEADER))));
    }

    #[test]
    fn v2_tlvs_must_chain_to_the_end() {
        for tail in [&[0x04][..], &[0x04, 0x00], &[0x04, 0x00, 0x01], &[0x04, 0x00, 0x00, 0x04, 0x00, 0x09, 1]] {
            let block = [&INET_BLOCK[..], tail].concat();
            assert!(err(&v2(V2_PROXY, 0x11, &block)), "tail {tail:?}");
        }
        let unix = [&[0u8; 216][..], &[0x04, 0x00, 0x01]].concat();
        assert!(err(&v2(V2_PROXY, 0x31, &unix)));
    }

    #[test]
    fn v2_header_fits_one_small_input_buffer() {
        // That it fits the connection's small buffer is asserted there (`connection`),
        // since this module depends on nothing.
        const { assert!(V1_MAX_LINE <= MAX_V2_HEADER) };
    }

    #[test]
    fn header_source_is_the_client_only_when_relayed() {
        assert_eq!(proxied("1.2.3.4:5", "6.7.8.9:10").source(), Some(addr("1.2.3.4:5")));
        assert_eq!(Header::Local.source(), None);
        assert_eq!(Header::Unknown.source(), None);
    }

    /// xorshift64: reproducible noise without a dependency.
    fn noise(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    /// What must hold for any input (as in fuzz/fuzz_targets/proxy.rs): no panic, a header
    /// inside the buffer and the cap, found again in exactly its own bytes and in a longer
    /// buffer, waiting only below the cap, and a refusal that more bytes do not undo.
    fn check(buf: &[u8]) {
        let longer = |tail: &[u8]| [buf, tail].concat();
        match parse(buf) {
            Ok(Some((header, n))) => {
                assert!(n <= buf.len() && n <= MAX_V2_HEADER, "{buf:?}");
                assert_eq!(parse(&buf[..n]), Ok(Some((header, n))), "{buf:?}");
                assert_eq!(parse(&longer(b"\r\nGET")), Ok(Some((header, n))), "{buf:?}");
            }
            Ok(None) => assert!(buf.len() < MAX_V2_HEADER, "{buf:?}"),
            Err(_) => {
                for tail in [&b"\r\n"[..], b" ", b"\n", b"\0"] {
                    assert!(parse(&longer(tail)).is_err(), "{buf:?} then {tail:?}");
                }
            }
        }
    }

    #[test]
    fn random_and_mutated_bytes_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        let valid: Vec<Vec<u8>> = valid().into_iter().map(|(h, _)| h).collect();
        for round in 0..20_000 {
            let mut buf = match round % 3 {
                0 => Vec::new(),
                1 => b"PROXY TCP".to_vec(),
                _ => valid[noise(&mut seed) as usize % valid.len()].clone(),
            };
            for _ in 0..noise(&mut seed) % 8 {
                let r = noise(&mut seed);
                let at = r as usize % (buf.len() + 1);
                match r >> 60 {
                    0..=5 => buf.insert(at, (r >> 8) as u8),
                    6..=9 if at < buf.len() => buf[at] = (r >> 8) as u8,
                    10..=11 => buf.truncate(at),
                    _ => buf.extend(b" 1.2.3.4 ::1 65535\r\n".iter().take(r as usize % 20)),
                }
            }
            check(&buf);
        }
    }
}
