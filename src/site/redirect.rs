//! `--redirect-http`: the plain listener's only answer, a 308 to the same path and query
//! on `https://`, so `http://` links keep working once the site speaks HTTPS.
//!
//! The host comes from the request's `Host`, which `request::parse` already checked
//! (a reg-name, an IPv4 address or a bracketed IP literal, with a numeric port), so it
//! cannot smuggle a path, a userinfo or a line break into `Location`.
use crate::http1::request::{Request, Target};
use crate::http1::response;
use crate::site::Reply;

/// The port `https://` URLs default to: not written in `Location`.
const HTTPS_DEFAULT_PORT: u16 = 443;

/// The `Location` for `req` when the HTTPS listener is on `https_port`; None when the
/// request names no host to send the client to (an empty or absent `Host`, `*`).
pub fn location(req: &Request, https_port: u16) -> Option<String> {
    let host = std::str::from_utf8(req.fields.host?).ok().filter(|h| !h.is_empty())?;
    let Target::Path(path) = req.target else { return None };
    let port = match https_port {
        HTTPS_DEFAULT_PORT => String::new(),
        port => format!(":{port}"),
    };
    Some(format!("https://{host}{port}{path}"))
}

/// Renders the answer to `req` into `out`: a 308 with `Location` and an empty body
/// (keep-alive as the request asks), or a 400 when there is nowhere to redirect to.
pub fn respond(req: &Request, https_port: u16, date: &str, out: &mut Vec<u8>) -> Reply {
    let close = !req.keep_alive;
    let http10_keep_alive = req.minor_version == 0 && req.keep_alive;
    let Some(location) = location(req, https_port) else {
        let body_len = response::explained_error(
            out,
            400,
            Some("This address only redirects to https://, and the request names no host."),
            date,
            true,
            false,
            req.method == "HEAD",
        );
        // A HEAD gets the head alone: no body bytes are written, so none are announced
        // to the log either.
        let body_len = if req.method == "HEAD" { 0 } else { body_len };
        return Reply { status: 400, body: None, body_len, close: true };
    };
    response::status_line(out, 308, date);
    response::header(out, "Location", &location);
    response::header(out, "Content-Length", "0");
    response::finish(out, close, http10_keep_alive);
    Reply { status: 308, body: None, body_len: 0, close }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::request::{Limits, parse};

    fn answer(raw: &str, https_port: u16) -> (Reply, String) {
        let (req, _) = parse(raw.as_bytes(), &Limits::default()).unwrap().unwrap();
        let mut out = Vec::new();
        let reply = respond(&req, https_port, "Tue, 01 Dec 2026 10:00:00 GMT", &mut out);
        (reply, String::from_utf8(out).unwrap())
    }

    #[test]
    fn the_same_path_and_query_on_https() {
        let (reply, head) = answer("GET /a/b?c=d HTTP/1.1\r\nHost: example.org\r\n\r\n", 443);
        assert_eq!((reply.status, reply.close, reply.body_len), (308, false, 0));
        assert!(head.starts_with("HTTP/1.1 308 Permanent Redirect\r\n"), "{head}");
        assert!(head.contains("\r\nLocation: https://example.org/a/b?c=d\r\n"), "{head}");
        assert!(head.contains("\r\nContent-Length: 0\r\n") && head.ends_with("\r\n\r\n"), "{head}");
        assert!(!head.contains("Connection: close"));
    }

    #[test]
    fn the_host_loses_its_port_and_gets_the_https_one() {
        let get = |host: &str, port| {
            let raw = format!("GET /x HTTP/1.1\r\nHost: {host}\r\n\r\n");
            let (req, _) = parse(raw.as_bytes(), &Limits::default()).unwrap().unwrap();
            location(&req, port)
        };
        assert_eq!(get("example.org:80", 443).as_deref(), Some("https://example.org/x"));
        assert_eq!(get("example.org:8080", 8443).as_deref(), Some("https://example.org:8443/x"));
        assert_eq!(get("[::1]:80", 8443).as_deref(), Some("https://[::1]:8443/x"));
        assert_eq!(get("127.0.0.1", 443).as_deref(), Some("https://127.0.0.1/x"));
        assert_eq!(get("", 443), None, "an empty Host names nowhere");
    }

    #[test]
    fn keep_alive_is_honoured_both_ways() {
        let (reply, head) = answer("HEAD / HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n", 443);
        assert!(reply.close && head.contains("\r\nConnection: close\r\n"), "{head}");
        let (reply, head) = answer("GET / HTTP/1.0\r\nHost: e\r\nConnection: keep-alive\r\n\r\n", 443);
        assert!(!reply.close && head.contains("\r\nConnection: keep-alive\r\n"), "{head}");
        let (reply, _) = answer("GET / HTTP/1.0\r\n\r\n", 443);
        assert_eq!((reply.status, reply.close), (400, true), "HTTP/1.0 without Host: nowhere to go");
    }

    #[test]
    fn a_host_with_a_path_or_userinfo_never_reaches_location() {
        for host in ["evil.org/x", "u@evil.org", "evil.org:80:81"] {
            let raw = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            assert!(parse(raw.as_bytes(), &Limits::default()).is_err(), "{host}: request::parse refuses it");
        }
    }

    #[test]
    fn a_head_without_a_host_announces_no_body() {
        let (reply, text) = answer("HEAD / HTTP/1.0\r\n\r\n", 443);
        assert_eq!((reply.status, reply.body_len), (400, 0));
        assert!(text.ends_with("\r\n\r\n"), "{text}");
    }
}
