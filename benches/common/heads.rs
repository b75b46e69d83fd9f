//! The request heads the micro-benchmarks and `examples/hotpath.rs` (instruction counts) use,
//! so both measure the same bytes.

pub const CURL: &[u8] =
    b"GET /index.html HTTP/1.1\r\nHost: localhost:8000\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
pub const BROWSER: &[u8] = b"GET /assets/app.js?v=42 HTTP/1.1\r\nHost: example.org\r\nConnection: keep-alive\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n\
Accept: */*\r\nSec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: script\r\n\
Referer: https://example.org/\r\nAccept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n\
If-None-Match: \"1f9-6b064fa7.38b6a82d\"\r\nIf-Modified-Since: Wed, 25 Nov 2026 03:01:59 GMT\r\n\r\n";
