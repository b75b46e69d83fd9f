//! The request as the site sees it, whatever protocol brought it: a method, a target and
//! the few fields the site acts on, borrowed from the connection's buffer. Version, body
//! framing and keep-alive belong to the protocol, and are not here.

/// The request target, already split by form (RFC 9112 section 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// `/path?query` (origin-form, or the path and query of an absolute-form target).
    /// An absolute-form target with an empty path and a query leaves `?query` alone: its
    /// path is `/` (RFC 9110 section 4.2.3), which `resolve::resolve_target` supplies.
    Path(&'a str),
    /// `*`, only meaningful for OPTIONS.
    Asterisk,
}

/// The header fields the server acts on; everything else is ignored.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fields<'a> {
    pub accept: Option<&'a [u8]>,
    pub accept_encoding: Option<&'a [u8]>,
    pub if_match: Option<&'a [u8]>,
    pub if_modified_since: Option<&'a [u8]>,
    pub if_none_match: Option<&'a [u8]>,
    pub if_range: Option<&'a [u8]>,
    pub if_unmodified_since: Option<&'a [u8]>,
    pub range: Option<&'a [u8]>,
    pub referer: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
    /// The LAST `Forwarded` line: proxies append, so the first may be the client's own.
    pub forwarded: Option<&'a [u8]>,
    /// The LAST `X-Forwarded-For` line, for the same reason.
    pub x_forwarded_for: Option<&'a [u8]>,
    /// The host of the `Host` field, without its port (checked: a reg-name, an IPv4
    /// address or an IP literal in brackets; may be empty).
    pub host: Option<&'a [u8]>,
}

/// One request, protocol-free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestView<'a> {
    pub method: &'a str,
    pub target: Target<'a>,
    pub fields: Fields<'a>,
}

impl RequestView<'_> {
    /// HEAD: the fields of a GET, no body.
    pub fn head_only(&self) -> bool {
        self.method == "HEAD"
    }
}
