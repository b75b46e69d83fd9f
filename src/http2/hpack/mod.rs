//! HPACK, the header compression of HTTP/2 (RFC 7541): the Huffman code (`huffman`), the
//! static and dynamic tables (`table`), the request-side decoder that bounds what a peer can
//! make it build (`decoder`) and the buffers its lists reuse (`spare`), and the response-side
//! encoder that indexes nothing (`encoder`).
//!
//! It knows nothing of frames or streams: it is given whole field blocks (HEADERS plus its
//! CONTINUATIONs, concatenated by the caller) and returns header lists, or writes one.

pub mod decoder;
pub mod encoder;
pub mod huffman;
mod spare;
pub mod table;
