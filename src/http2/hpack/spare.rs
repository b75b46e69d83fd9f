//! The buffers of dropped header lists, kept per thread for the next lists decoded there: a
//! request's list then costs no allocation (nor a free) in steady state.
//!
//! Why per thread and not per connection: a list leaves the decoder inside a `Request` that the
//! caller keeps as long as it likes and drops where it likes, so it cannot hand the buffers
//! back to the connection that decoded it; dropped on the event loop's thread, it hands them to
//! the next list decoded there, on any connection. The stock is bounded in count and in each
//! buffer's room, so a burst of large lists does not stay in memory.

use std::cell::RefCell;

/// Lists kept at most: a burst of requests on one connection (a browser's page, `-m` streams
/// of a load generator) is decoded before its first list is dropped.
const KEPT: usize = 32;

/// The largest buffers kept: what a typical request's list takes (a few hundred bytes of
/// names and values, a dozen fields) with room to spare; larger ones are freed.
const MAX_BYTES_ROOM: usize = 4096;
const MAX_FIELDS_ROOM: usize = 32;

thread_local! {
    static STOCK: RefCell<Vec<(Vec<u8>, Vec<super::decoder::Field>)>> = const { RefCell::new(Vec::new()) };
}

/// Empty buffers with room for at least `bytes` bytes and `fields` fields: kept ones if any.
pub(super) fn take(bytes: usize, fields: usize) -> (Vec<u8>, Vec<super::decoder::Field>) {
    let kept = STOCK.try_with(|stock| stock.borrow_mut().pop()).ok().flatten();
    let (mut b, mut f) = kept.unwrap_or_default();
    b.reserve(bytes);
    f.reserve(fields);
    (b, f)
}

/// Keeps a dropped list's buffers (emptied) for `take`, unless the stock is full or they are
/// too large; otherwise they are freed.
pub(super) fn give(mut bytes: Vec<u8>, mut fields: Vec<super::decoder::Field>) {
    if bytes.capacity() == 0 || bytes.capacity() > MAX_BYTES_ROOM || fields.capacity() > MAX_FIELDS_ROOM {
        return;
    }
    bytes.clear();
    fields.clear();
    // During the thread's exit the stock may be gone: the buffers are then simply freed.
    let _ = STOCK.try_with(|stock| {
        let mut stock = stock.borrow_mut();
        if stock.len() < KEPT {
            stock.push((bytes, fields));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_emptied_and_the_stock_is_bounded() {
        let (mut b, f) = take(100, 4);
        b.extend_from_slice(b"name");
        let room = b.as_ptr();
        give(b, f);
        let (b, f) = take(10, 1);
        assert!(b.is_empty() && f.is_empty());
        assert_eq!(b.as_ptr(), room, "the kept buffer is handed out again");
        assert!(b.capacity() >= 100 && f.capacity() >= 4);
        give(Vec::with_capacity(MAX_BYTES_ROOM + 1), Vec::new());
        for _ in 0..KEPT + 8 {
            give(Vec::with_capacity(16), Vec::new());
        }
        assert_eq!(STOCK.with(|stock| stock.borrow().len()), KEPT);
        assert!(STOCK.with(|stock| stock.borrow().iter().all(|(b, _)| b.capacity() <= MAX_BYTES_ROOM)));
    }
}
