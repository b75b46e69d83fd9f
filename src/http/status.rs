//! Statuses: their reason phrases and the small pages the server sends with errors.
use std::sync::Arc;

use crate::http::plan::{Body, Field, Plan, Text};

/// The `Server` field value.
pub const SERVER: &str = concat!("evserve/", env!("CARGO_PKG_VERSION"));

/// The reason phrase of each status the server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// The small HTML page sent with an error status.
pub fn error_body(status: u16) -> String {
    explained_error_body(status, None)
}

/// The error page, with a sentence saying why when there is one to give (plain text,
/// no markup: it is also read raw, by a person typing into `nc`).
pub fn explained_error_body(status: u16, why: Option<&str>) -> String {
    let title = format!("{status} {}", reason(status));
    let why = why.map(|text| format!("\n<p>{text}</p>\n")).unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>{why}<hr><p>evserve</p></body></html>\n"
    )
}

/// The media type of every page the server writes itself.
pub const HTML: &str = "text/html; charset=utf-8";

/// An error response: the page as its body (none for HEAD, whose fields are a GET's), with
/// a sentence saying why when there is one to give; `Allow` on a 405.
pub fn error_plan(status: u16, why: Option<&str>, head_only: bool) -> Plan {
    let page = explained_error_body(status, why);
    let mut fields =
        vec![Field::ContentType(Text::Static(HTML)), Field::ContentLength(page.len() as u64), Field::NoSniff];
    if status == 405 {
        fields.push(Field::Allow);
    }
    let body = if head_only { Body::Empty } else { Body::Made(Arc::from(page.into_bytes())) };
    Plan::new(status, fields, body)
}
