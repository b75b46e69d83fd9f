//! Which address is the client when requests arrive through reverse proxies that we trust.
//!
//! A proxy that relays a request appends the address it got the request from to
//! `Forwarded: for=...` (RFC 7239) or `X-Forwarded-For`. Everything to the left of what our own
//! proxies appended was written by the client and may be a lie, so the list is read from the
//! right: skip the hops that are our proxies (`trusted`) and stop at the first one that is not.
//! That hop connected to a proxy we trust, so it is the client. If the peer itself is not
//! trusted the headers are the client's own words and are ignored.
//!
//! Anything we cannot vouch for ends the walk at the last address we could: a malformed hop,
//! `unknown`, an obfuscated identifier (`_hidden`), or an element without `for=`. The answer
//! is then the nearest of our own proxies we could see (or the peer), never a client's guess.
//! Pure and allocation-free; no I/O.
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Which header a trusted proxy writes the client into. Only that one is read: the other
/// passes through the proxy untouched, so its content is the client's own claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustedHeader {
    XForwardedFor,
    Forwarded,
}

/// An address block such as `10.0.0.0/8` or `::1/128`; a bare address is a single host.
///
/// IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`, what a dual-stack socket reports for an
/// IPv4 peer) are compared as IPv4, both in `contains` and when a block is written that way
/// (a mapped block shorter than /96 stays IPv6 and so matches no IPv4 peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a `Cidr` did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CidrError(pub &'static str);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (expected an address or address/prefix, like 10.0.0.0/8 or ::1)", self.0)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// Strict: a decimal prefix without sign or leading zeros, within the family's width, and
    /// no host bits set (`10.0.0.1/8` is refused: it is most likely a typo for a /32).
    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let (addr, prefix) = s.split_once('/').unwrap_or((s, ""));
        let network: IpAddr = addr.parse().map_err(|_| CidrError("not an IP address"))?;
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            "" if !s.contains('/') => width,
            "0" => 0,
            p if p.starts_with(|c: char| ('1'..='9').contains(&c)) && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().ok().filter(|&p| p <= width).ok_or(CidrError("prefix longer than the address"))?
            }
            _ => return Err(CidrError("prefix is not a decimal number")),
        };
        let cidr = Cidr::canonical(network, prefix);
        match cidr.network_of(cidr.network) == bits(cidr.network) {
            true => Ok(cidr),
            false => Err(CidrError("host bits set after the prefix")),
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Cidr {
    /// Whether `ip` is inside the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.contains_canonical(ip.to_canonical())
    }

    fn contains_canonical(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.network.is_ipv4() && self.network_of(ip) == bits(self.network)
    }

    /// `ip` as a number with all but its first `prefix` bits cleared.
    fn network_of(&self, ip: IpAddr) -> u128 {
        let host_bits = if ip.is_ipv4() { 32 } else { 128 } - u32::from(self.prefix);
        bits(ip).checked_shr(host_bits).unwrap_or(0).checked_shl(host_bits).unwrap_or(0)
    }

    /// `::ffff:a.b.c.d/n` with n >= 96 is the IPv4 block `a.b.c.d/(n - 96)`.
    fn canonical(network: IpAddr, prefix: u8) -> Cidr {
        match network {
            IpAddr::V6(v6) if prefix >= 96 && v6.to_ipv4_mapped().is_some() => {
                Cidr { network: network.to_canonical(), prefix: prefix - 96 }
            }
            _ => Cidr { network, prefix },
        }
    }
}

/// The address as a number (IPv4 in the low 32 bits).
fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// Reads the address out of one element of a hop list.
type HopParser = fn(&[u8]) -> Option<IpAddr>;

/// The client's address for a request that came from `peer`.
///
/// `forwarded` and `x_forwarded_for` are the header values, if present; `Forwarded` wins when
/// both are given. Pass only the header your proxies write (`None` for the other): one they
/// pass through untouched is the client's to fill in.
///
/// A field may appear on several lines; pass the LAST line (or all lines joined with `,`).
/// Our proxies append at the end, and a proxy that adds a new line instead of appending puts
/// the client's own line first: reading the first line would believe it.
pub fn client(peer: IpAddr, trusted: &[Cidr], forwarded: Option<&[u8]>, x_forwarded_for: Option<&[u8]>) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|cidr| cidr.contains(ip));
    let (list, hop): (&[u8], HopParser) = match (forwarded, x_forwarded_for) {
        _ if !is_trusted(peer) => return peer,
        (Some(value), _) => (value, forwarded_for),
        (None, Some(value)) => (value, address),
        (None, None) => return peer,
    };
    let mut client = peer;
    // A comma inside a quoted value splits it here, and both halves are malformed: that ends
    // the walk early, which is safe. No address or port contains a comma.
    for element in list.rsplit(|&b| b == b',') {
        let Some(ip) = hop(trim(element)) else { break };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// The `for=` address of one `Forwarded` element (`for=1.2.3.4;proto=https;by=...`).
/// Parameter names are case-insensitive and each may occur once. `None` when it has none.
fn forwarded_for(element: &[u8]) -> Option<IpAddr> {
    let mut found = None;
    for pair in element.split(|&b| b == b';').map(trim).filter(|pair| !pair.is_empty()) {
        let eq = pair.iter().position(|&b| b == b'=')?;
        let (name, value) = (&pair[..eq], unquote(&pair[eq + 1..])?);
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return None;
        }
        if name.eq_ignore_ascii_case(b"for") {
            if found.is_some() {
                return None;
            }
            found = Some(value);
        }
    }
    node(found?)
}

/// A token, or a quoted string without escapes (a node never needs one).
fn unquote(value: &[u8]) -> Option<&[u8]> {
    match value {
        [b'"', inner @ .., b'"'] if !inner.iter().any(|&b| b == b'"' || b == b'\\' || b.is_ascii_control()) => {
            Some(inner)
        }
        _ if !value.is_empty() && value.iter().all(|&b| is_tchar(b)) => Some(value),
        _ => None,
    }
}

/// RFC 7239 node: `1.2.3.4`, `1.2.3.4:port`, `[v6]`, `[v6]:port`. `unknown` and obfuscated
/// names (`_x`) are not addresses. The port may be obfuscated too; it is not used.
fn node(node: &[u8]) -> Option<IpAddr> {
    let (host, port) = match node {
        [b'[', rest @ ..] => {
            let close = rest.iter().position(|&b| b == b']')?;
            let (v6, after) = (&rest[..close], &rest[close + 1..]);
            (ip(v6).filter(IpAddr::is_ipv6)?, after)
        }
        _ => {
            let colon = node.iter().position(|&b| b == b':').unwrap_or(node.len());
            (ip(&node[..colon]).filter(IpAddr::is_ipv4)?, &node[colon..])
        }
    };
    let port_ok = match port {
        [] => true,
        [b':', b'_', obfuscated @ ..] => !obfuscated.is_empty() && obfuscated.iter().all(|&b| is_obfuscated(b)),
        [b':', digits @ ..] => (1..=5).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    port_ok.then_some(host)
}

/// One `X-Forwarded-For` hop: a bare address, or a node as in `Forwarded` (some proxies add
/// a port).
fn address(hop: &[u8]) -> Option<IpAddr> {
    ip(hop).or_else(|| node(hop))
}

/// std's parser: no leading zeros, octal, hex or short IPv4 forms, no IPv6 zone.
fn ip(text: &[u8]) -> Option<IpAddr> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Optional whitespace (spaces and tabs) around list elements and parameters.
fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// RFC 9110 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 7239 obfuscated node and port characters (after the `_`).
fn is_obfuscated(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._-".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// Our proxies: 10.0.0.0/8 and ::1.
    fn trusted() -> Vec<Cidr> {
        vec![cidr("10.0.0.0/8"), cidr("::1")]
    }

    const PROXY: &str = "10.0.0.1";

    fn via_xff(value: &str) -> IpAddr {
        client(ip(PROXY), &trusted(), None, Some(value.as_bytes()))
    }

    fn via_forwarded(value: &str) -> IpAddr {
        client(ip(PROXY), &trusted(), Some(value.as_bytes()), None)
    }

    #[test]
    fn cidrs_parse_strictly() {
        assert_eq!(cidr("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(cidr("192.168.1.7").to_string(), "192.168.1.7/32");
        assert_eq!(cidr("::1").to_string(), "::1/128");
        assert_eq!(cidr("2001:db8::/32").to_string(), "2001:db8::/32");
        assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(cidr("::/0").to_string(), "::/0");
        assert_eq!(cidr("::ffff:10.0.0.0/104").to_string(), "10.0.0.0/8", "mapped blocks are IPv4");
        for bad in [
            "",
            "/8",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/08",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0.0/8/8",
            "10.0.0.0/ 8",
            " 10.0.0.0/8",
            "10.0.0.1/8",
            "2001:db8::1/32",
            "010.0.0.0/8",
            "10.0.0/24",
            "localhost",
            "10.0.0.0/999999999999",
            "[::1]",
            "fe80::1%eth0/128",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "accepted {bad:?}");
        }
        let e = "10.0.0.1/8".parse::<Cidr>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "host bits set after the prefix (expected an address or address/prefix, like 10.0.0.0/8 or ::1)"
        );
    }

    #[test]
    fn cidr_contains_its_block_only() {
        let ten = cidr("10.0.0.0/8");
        assert!(ten.contains(ip("10.0.0.0")) && ten.contains(ip("10.255.255.255")));
        assert!(!ten.contains(ip("11.0.0.0")) && !ten.contains(ip("9.255.255.255")));
        assert!(ten.contains(ip("::ffff:10.1.2.3")), "an IPv4 peer on a dual-stack socket");
        assert!(!ten.contains(ip("::a01:203")), "IPv4-compatible is not IPv4-mapped");
        assert!(!ten.contains(ip("2001:db8::1")));
        let host = cidr("192.168.1.7");
        assert!(host.contains(ip("192.168.1.7")) && !host.contains(ip("192.168.1.8")));
        let v6 = cidr("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert!(cidr("0.0.0.0/0").contains(ip("1.2.3.4")) && !cidr("0.0.0.0/0").contains(ip("::2")));
        assert!(cidr("::/0").contains(ip("::2")) && !cidr("::/0").contains(ip("::ffff:1.2.3.4")));
        assert!(cidr("::1").contains(ip("::1")) && !cidr("::1").contains(ip("::2")));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let peer = ip("203.0.113.9");
        assert_eq!(client(peer, &trusted(), Some(b"for=1.1.1.1"), Some(b"1.1.1.1")), peer);
        assert_eq!(client(peer, &[], None, Some(b"1.1.1.1")), peer);
    }

    #[test]
    fn a_trusted_peer_without_headers_is_the_client() {
        assert_eq!(client(ip(PROXY), &trusted(), None, None), ip(PROXY));
        assert_eq!(client(ip("::ffff:10.0.0.1"), &trusted(), None, None), ip("::ffff:10.0.0.1"));
    }

    #[test]
    fn x_forwarded_for_is_walked_from_the_right_past_trusted_hops() {
        assert_eq!(via_xff("1.1.1.1"), ip("1.1.1.1"));
        assert_eq!(via_xff("6.6.6.6, 1.1.1.1"), ip("1.1.1.1"), "the client's own entry is ignored");
        assert_eq!(via_xff("6.6.6.6, 1.1.1.1, 10.0.0.2, 10.9.9.9"), ip("1.1.1.1"));
        assert_eq!(via_xff("10.0.0.3,10.0.0.2"), ip("10.0.0.3"), "all trusted: the leftmost");
        assert_eq!(via_xff("2001:db8::7, ::1"), ip("2001:db8::7"));
        assert_eq!(via_xff("\t1.1.1.1 ,  10.0.0.2\t"), ip("1.1.1.1"));
        assert_eq!(via_xff("::ffff:10.0.0.5, 1.1.1.1"), ip("1.1.1.1"));
        assert_eq!(via_xff("1.1.1.1, ::ffff:10.0.0.5"), ip("1.1.1.1"), "a mapped hop is compared as IPv4");
        assert_eq!(via_xff("1.1.1.1:4711, [2001:db8::9]:80"), ip("2001:db8::9"), "ports, as some proxies add");
        assert_eq!(via_xff("[2001:db8::9]"), ip("2001:db8::9"));
    }

    #[test]
    fn a_malformed_hop_stops_at_the_last_good_address() {
        assert_eq!(via_xff("1.1.1.1, garbage, 10.0.0.2"), ip("10.0.0.2"));
        assert_eq!(via_xff("1.1.1.1, garbage"), ip(PROXY), "nothing good: the peer");
        for hostile in [
            "",
            " ",
            ",",
            "1.1.1.1,",
            "1.1.1.1 2.2.2.2",
            "unknown",
            "1.1.1.1;",
            "01.1.1.1",
            "1.1.1",
            "1.1.1.1:",
            "1.1.1.1:123456",
            "1.1.1.1:x",
            "[1.1.1.1]",
            "[2001:db8::1",
            "2001:db8::1]",
            "fe80::1%eth0",
            "\"1.1.1.1\"",
            "1.1.1.1\x00",
            "\u{ff11}.1.1.1",
        ] {
            assert_eq!(via_xff(hostile), ip(PROXY), "{hostile:?}");
        }
        let overlong = format!("{}1.1.1.1", "9".repeat(100_000));
        assert_eq!(via_xff(&overlong), ip(PROXY));
        let many = "10.0.0.2, ".repeat(10_000) + "10.0.0.3";
        assert_eq!(via_xff(&many), ip("10.0.0.2"), "all trusted: the leftmost");
    }

    #[test]
    fn forwarded_for_is_read_in_all_its_forms() {
        assert_eq!(via_forwarded("for=192.0.2.60;proto=http;by=203.0.113.43"), ip("192.0.2.60"));
        assert_eq!(via_forwarded("for=192.0.2.43, for=198.51.100.17"), ip("198.51.100.17"));
        assert_eq!(via_forwarded("for=\"[2001:db8:cafe::17]:4711\""), ip("2001:db8:cafe::17"));
        assert_eq!(via_forwarded("for=\"[2001:db8:cafe::17]\""), ip("2001:db8:cafe::17"));
        assert_eq!(via_forwarded("for=\"192.0.2.60:8080\""), ip("192.0.2.60"));
        assert_eq!(via_forwarded("for=\"192.0.2.60:_port\""), ip("192.0.2.60"));
        assert_eq!(via_forwarded("FOR=192.0.2.60"), ip("192.0.2.60"), "names are case-insensitive");
        assert_eq!(via_forwarded("proto=https;for=\"192.0.2.60\";host=\"a.example:8443\""), ip("192.0.2.60"));
        assert_eq!(via_forwarded("for=1.1.1.1; proto=https ;;"), ip("1.1.1.1"));
        assert_eq!(via_forwarded("for=6.6.6.6, for=1.1.1.1, for=10.0.0.2;by=10.0.0.1"), ip("1.1.1.1"));
        assert_eq!(via_forwarded("for=10.0.0.3, for=\"[::1]:80\""), ip("10.0.0.3"), "all trusted: the leftmost");
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for() {
        let got = client(ip(PROXY), &trusted(), Some(b"for=1.1.1.1"), Some(b"2.2.2.2"));
        assert_eq!(got, ip("1.1.1.1"));
        let got = client(ip(PROXY), &trusted(), Some(b"bogus"), Some(b"2.2.2.2"));
        assert_eq!(got, ip(PROXY), "a present but bad Forwarded is not replaced by X-Forwarded-For");
    }

    #[test]
    fn forwarded_hops_we_cannot_vouch_for_stop_the_walk() {
        assert_eq!(via_forwarded("for=1.1.1.1, for=unknown, for=10.0.0.2"), ip("10.0.0.2"));
        assert_eq!(via_forwarded("for=1.1.1.1, for=_hidden, for=10.0.0.2"), ip("10.0.0.2"));
        assert_eq!(via_forwarded("for=1.1.1.1, proto=https, for=10.0.0.2"), ip("10.0.0.2"), "no for=");
        assert_eq!(via_forwarded("for=1.1.1.1, for=\"x, y\", for=10.0.0.2"), ip("10.0.0.2"), "quoted comma");
        for hostile in [
            "for=1.1.1.1;for=2.2.2.2", // twice in one element
            "for=2001:db8::1",         // IPv6 must be bracketed, and quoted
            "for=[2001:db8::1]",       // brackets are not token characters
            "for=\"2001:db8::1\"",     // unbracketed
            "for=\"1.1.1.1",           // unterminated
            "for=1.1.1.1\"",
            "for=\"1.1.1.1\\\"\"", // escapes
            "for=\"\"",
            "for=",
            "for",
            "=1.1.1.1",
            "f r=1.1.1.1",
            "for = 1.1.1.1",
            "for=\"[2001:db8::1]:\"",
            "for=\"[2001:db8::1]:123456\"",
            "for=\"[2001:db8::1]x\"",
            "for=\"[1.1.1.1]\"",
            "for=\"1.1.1.1:_\"",
            "for=\"1.1.1.1:_a/b\"",
            "for=\"1.1.1.1\x01\"",
            "for=01.1.1.1",
            "for=UNKNOWN",
            "",
        ] {
            assert_eq!(via_forwarded(hostile), ip(PROXY), "{hostile:?}");
        }
    }

    #[test]
    fn random_bytes_never_panic_and_answer_the_peer_or_a_hop() {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let alphabet = b"0123456789abcdef.:[]\",; =\t_forFORunknown1.1.1.1";
        for _ in 0..20_000 {
            let mut value = Vec::new();
            for _ in 0..seed % 40 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                value.push(match seed % 8 {
                    0 => (seed >> 8) as u8,
                    _ => alphabet[(seed >> 8) as usize % alphabet.len()],
                });
            }
            let text = String::from_utf8_lossy(&value);
            let got = [via_forwarded(&text), via_xff(&text)];
            for got in got {
                assert!(got == ip(PROXY) || text.contains(&got.to_string()), "{text:?} -> {got}");
            }
        }
    }
}
