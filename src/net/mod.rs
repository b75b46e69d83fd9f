//! The wire below HTTP: transports (TCP, Unix, TLS), listeners, socket activation and the
//! PROXY protocol header.
pub mod activation;
pub mod proxy;
pub mod tls;
pub(crate) mod transport;
