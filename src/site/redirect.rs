//! `--redirect-http`: the plain listener's only answer, a 308 to the same path and query
//! on `https://`, so `http://` links keep working once the site speaks HTTPS.
//!
//! The host comes from the request's `Host`, which `request::parse` already checked
//! (a reg-name, an IPv4 address or a bracketed IP literal, with a numeric port), so it
//! cannot smuggle a path, a userinfo or a line break into `Location`.
use crate::http::plan::{Body, Field, Plan};
use crate::http::status::error_plan;
use crate::http::view::{RequestView, Target};

/// The port `https://` URLs default to: not written in `Location`.
const HTTPS_DEFAULT_PORT: u16 = 443;

/// The `Location` for `req` when the HTTPS listener is on `https_port`; None when the
/// request names no host to send the client to (an empty or absent `Host`, `*`).
pub fn location(req: &RequestView, https_port: u16) -> Option<String> {
    let host = std::str::from_utf8(req.fields.host?).ok().filter(|h| !h.is_empty())?;
    let Target::Path(path) = req.target else { return None };
    let port = match https_port {
        HTTPS_DEFAULT_PORT => String::new(),
        port => format!(":{port}"),
    };
    Some(format!("https://{host}{port}{path}"))
}

/// The answer to `req`: a 308 with `Location` and an empty body, or a 400 (and a close)
/// when there is nowhere to redirect to.
pub fn plan(req: &RequestView, https_port: u16) -> Plan {
    match location(req, https_port) {
        Some(location) => Plan::new(308, vec![Field::Location(location), Field::ContentLength(0)], Body::Empty),
        None => {
            let why = "This address only redirects to https://, and the request names no host.";
            Plan { close: true, ..error_plan(400, Some(why), req.head_only()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::request::{Limits, parse};

    fn answer(raw: &str, https_port: u16) -> Plan {
        let (req, _) = parse(raw.as_bytes(), &Limits::default()).unwrap().unwrap();
        plan(&req.view(), https_port)
    }

    #[test]
    fn the_same_path_and_query_on_https() {
        let plan = answer("GET /a/b?c=d HTTP/1.1\r\nHost: example.org\r\n\r\n", 443);
        assert_eq!((plan.status, plan.close, plan.body.len()), (308, false, 0));
        let location = Field::Location("https://example.org/a/b?c=d".into());
        assert_eq!(plan.fields, [location, Field::ContentLength(0)]);
    }

    #[test]
    fn the_host_loses_its_port_and_gets_the_https_one() {
        let get = |host: &str, port| {
            let raw = format!("GET /x HTTP/1.1\r\nHost: {host}\r\n\r\n");
            let (req, _) = parse(raw.as_bytes(), &Limits::default()).unwrap().unwrap();
            location(&req.view(), port)
        };
        assert_eq!(get("example.org:80", 443).as_deref(), Some("https://example.org/x"));
        assert_eq!(get("example.org:8080", 8443).as_deref(), Some("https://example.org:8443/x"));
        assert_eq!(get("[::1]:80", 8443).as_deref(), Some("https://[::1]:8443/x"));
        assert_eq!(get("127.0.0.1", 443).as_deref(), Some("https://127.0.0.1/x"));
        assert_eq!(get("", 443), None, "an empty Host names nowhere");
    }

    /// Keep-alive is HTTP/1's to decide (`http1::render`); the redirect only closes when
    /// the request was unusable.
    #[test]
    fn only_a_request_without_a_host_closes() {
        let plan = answer("HEAD / HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n", 443);
        assert_eq!((plan.status, plan.close), (308, false));
        let plan = answer("GET / HTTP/1.0\r\n\r\n", 443);
        assert_eq!((plan.status, plan.close), (400, true), "HTTP/1.0 without Host: nowhere to go");
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
        let plan = answer("HEAD / HTTP/1.0\r\n\r\n", 443);
        assert_eq!((plan.status, plan.body.len()), (400, 0));
        assert!(plan.fields.iter().any(|f| matches!(f, Field::ContentLength(n) if *n > 0)), "a GET's length");
    }
}
