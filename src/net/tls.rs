//! HTTPS on the same loop: rustls's unbuffered server connection for the handshake, then
//! our own record layer, as a transport under the unchanged `Connection`.
//!
//! - `config`: `Settings::load` turns a PEM chain and key into a `ServerConfig` (TLS 1.2/1.3,
//!   AEAD suites, ALPN `h2` and `http/1.1`, no 0-RTT, ticket resumption with a rotating key) and
//!   names the file at fault when it cannot; `Settings::reload` is SIGHUP's.
//! - `stream`: `TlsStream`, the non-blocking TLS state over a socket, with the hooks an
//!   edge-triggered loop needs (`has_buffered_input`, `wants_write`, `flush_own`).
//! - `pool`: the buffers it takes only while it holds bytes, so an idle connection keeps
//!   none.
//! - `records`: after the handshake, records sealed and opened in place with the traffic
//!   keys rustls hands over (its kTLS hook), so a file body is read straight into its
//!   record and an idle connection keeps only keys and sequence numbers.
pub mod config;
pub mod pool;
pub mod records;
pub mod stream;

pub use config::{ALPN_HTTP11, Problem, Settings, TlsError};
pub use pool::{Pool, SharedPool};
pub use stream::{Socket, StreamError, TlsStream, is_plain_http, stream_error};

/// The longest Host value `plain_http_refusal` repeats.
const MAX_HOST: usize = 255;

/// The plain-text answer to a plaintext HTTP request on the HTTPS port, sent raw
/// (`write` once the stream reported `StreamError::PlainHttp`),
/// then the connection closes.
pub fn plain_http_refusal(host: Option<&str>) -> Vec<u8> {
    let body = match host {
        Some(host) => format!("This port speaks HTTPS; use https://{host}/\n"),
        None => "This port speaks HTTPS; use https:// instead of http://\n".to_owned(),
    };
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The Host header of the plaintext request bytes `head` (as much as has arrived), when
/// it is a plain host name or address with an optional port: it goes into a URL.
pub fn host_of_plain_request(head: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(head.get(..head.len().min(8192))?).ok()?;
    // Only whole lines: a value cut short by the read would name the wrong host.
    let complete = &text[..text.rfind("\r\n")?];
    let value = complete
        .split("\r\n")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .find_map(|line| line.split_once(':').filter(|(name, _)| name.eq_ignore_ascii_case("host")))?
        .1
        .trim();
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    (!value.is_empty() && value.len() <= MAX_HOST && value.chars().all(plain)).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_plain_400() {
        let bytes = plain_http_refusal(Some("example.org:8443"));
        let text = String::from_utf8(bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(head.contains("\r\nConnection: close"));
        assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
        assert_eq!(body, "This port speaks HTTPS; use https://example.org:8443/\n");
    }

    #[test]
    fn the_host_is_taken_only_when_it_is_a_plain_name() {
        let get = |host: &str| host_of_plain_request(format!("GET / HTTP/1.1\r\nhOsT: {host}\r\n\r\n").as_bytes());
        assert_eq!(get("example.org").as_deref(), Some("example.org"));
        assert_eq!(get("[::1]:8443").as_deref(), Some("[::1]:8443"));
        assert_eq!(get("evil.org/<script>"), None);
        assert_eq!(get(""), None);
        assert_eq!(host_of_plain_request(b"GET / HTTP/1.1\r\n\r\nHost: late\r\n"), None, "only in the head");
        assert_eq!(host_of_plain_request(b"GET / HTTP/1.1\r\nHost: part"), None, "a line cut short");
    }
}
