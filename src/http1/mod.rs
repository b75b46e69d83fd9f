//! HTTP/1.x on the wire: request heads parsed (httparse and RFC 9112's rules), bodies
//! framed and thrown away, response heads rendered.
pub mod render;
pub mod request;
