//! The TLS buffers of one loop: taken when a connection has bytes to hold, given back the
//! moment they are drained, so an idle HTTPS connection holds none (only rustls's state).
use std::cell::RefCell;
use std::rc::Rc;

/// Most plaintext in one TLS record.
pub const RECORD: usize = 16 * 1024;

/// The largest record a peer may send: TLS 1.2 allows 2048 bytes of expansion.
pub const INPUT_SIZE: usize = 5 + RECORD + 2048;

/// Full records written to the socket per `write(2)`.
pub const RECORDS_PER_WRITE: usize = 4;

/// The input buffer a connection starts with: a ClientHello or a request record fits, and
/// a half-sent one holds no more than a half-sent plain HTTP head does. A read that fills
/// it moves its bytes to an `INPUT_SIZE` buffer.
pub const SMALL_INPUT_SIZE: usize = 1024;

/// Wire size of one full record, with room for any AEAD's header, nonce and tag.
pub const RECORD_WIRE: usize = RECORD + 64;

/// Encrypted output of several records, written together.
pub const OUTPUT_SIZE: usize = RECORDS_PER_WRITE * RECORD_WIRE;

/// Bytes of free buffers of each kind kept for reuse; what the pool cannot take is freed,
/// so a burst does not pin its memory for the life of the process.
const KEEP_BYTES: usize = 512 * 1024;

/// The pool of one single-threaded loop, shared by its connections.
pub type SharedPool = Rc<RefCell<Pool>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// TLS bytes read from the socket, not yet decrypted: the first read's buffer.
    SmallInput,
    /// The same, once a record needs more room than a small buffer has.
    Input,
    /// Plaintext: decrypted and not yet read, or written and not yet encrypted.
    Plain,
    /// TLS bytes waiting for the socket.
    Output,
}

impl Kind {
    pub fn size(self) -> usize {
        match self {
            Kind::SmallInput => SMALL_INPUT_SIZE,
            Kind::Input => INPUT_SIZE,
            Kind::Plain => RECORD,
            Kind::Output => OUTPUT_SIZE,
        }
    }
}

#[derive(Debug)]
pub struct Pool {
    small_input: Vec<Vec<u8>>,
    input: Vec<Vec<u8>>,
    plain: Vec<Vec<u8>>,
    output: Vec<Vec<u8>>,
    /// Records sealed under one key before the next (`records::RECORDS_PER_KEY`): the
    /// loop's setting for its connections, lowered only by tests, which could not reach it.
    pub records_per_key: u64,
}

impl Default for Pool {
    fn default() -> Pool {
        Pool {
            small_input: Vec::new(),
            input: Vec::new(),
            plain: Vec::new(),
            output: Vec::new(),
            records_per_key: super::records::RECORDS_PER_KEY,
        }
    }
}

impl Pool {
    pub fn shared() -> SharedPool {
        Rc::new(RefCell::new(Pool::default()))
    }

    fn stack(&mut self, kind: Kind) -> &mut Vec<Vec<u8>> {
        match kind {
            Kind::SmallInput => &mut self.small_input,
            Kind::Input => &mut self.input,
            Kind::Plain => &mut self.plain,
            Kind::Output => &mut self.output,
        }
    }

    pub fn take(&mut self, kind: Kind) -> Vec<u8> {
        self.stack(kind).pop().unwrap_or_else(|| vec![0; kind.size()])
    }

    /// Keeps `buf` for reuse unless the pool is full or the buffer grew past its size
    /// (every kind has its own size, so the length says which stack it goes to).
    pub fn give(&mut self, buf: Vec<u8>) {
        let kinds = [Kind::SmallInput, Kind::Input, Kind::Plain, Kind::Output];
        let Some(kind) = kinds.into_iter().find(|kind| kind.size() == buf.len()) else { return };
        let keep = KEEP_BYTES / kind.size();
        let stack = self.stack(kind);
        if stack.len() < keep {
            stack.push(buf);
        }
    }

    /// Bytes held in free buffers (for memory accounting).
    pub fn held_bytes(&self) -> usize {
        self.small_input.len() * SMALL_INPUT_SIZE
            + self.input.len() * INPUT_SIZE
            + self.plain.len() * RECORD
            + self.output.len() * OUTPUT_SIZE
    }
}

/// A window `start..end` of bytes in an optional pooled buffer. The offsets are `u32`
/// (a buffer is at most a few records) so that the four chunks of an idle connection
/// cost 32 bytes less.
#[derive(Debug, Default)]
pub struct Chunk {
    buf: Vec<u8>,
    start: u32,
    end: u32,
}

impl Chunk {
    fn start(&self) -> usize {
        self.start as usize
    }

    fn end(&self) -> usize {
        self.end as usize
    }

    fn set(&mut self, start: usize, end: usize) {
        self.start = u32::try_from(start).expect("a chunk is far below 4 GiB");
        self.end = u32::try_from(end).expect("a chunk is far below 4 GiB");
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn len(&self) -> usize {
        self.end() - self.start()
    }

    pub fn data(&self) -> &[u8] {
        &self.buf[self.start()..self.end()]
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.start(), self.end());
        &mut self.buf[start..end]
    }

    /// Free room after the data (empty when no buffer is held).
    pub fn spare(&mut self) -> &mut [u8] {
        let end = self.end();
        &mut self.buf[end..]
    }

    /// Bytes of buffer held (0 when none).
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    pub fn spare_len(&self) -> usize {
        self.buf.len() - self.end()
    }

    pub fn filled(&mut self, n: usize) {
        self.set(self.start(), self.end() + n);
    }

    pub fn consume(&mut self, n: usize) {
        let start = self.start() + n;
        if start == self.end() { self.set(0, 0) } else { self.set(start, self.end()) }
    }

    /// Takes a buffer from the pool if none is held.
    pub fn hold(&mut self, pool: &SharedPool, kind: Kind) {
        if self.buf.is_empty() {
            self.buf = pool.borrow_mut().take(kind);
        }
    }

    /// Gives the buffer back once its bytes are all used.
    pub fn release(&mut self, pool: &SharedPool) {
        if self.is_empty() && !self.buf.is_empty() {
            pool.borrow_mut().give(std::mem::take(&mut self.buf));
        }
    }

    /// Moves the bytes into a buffer of `kind` (a bigger one) and gives the old one back.
    pub fn move_to(&mut self, pool: &SharedPool, kind: Kind) {
        let mut bigger = pool.borrow_mut().take(kind);
        let len = self.len();
        bigger[..len].copy_from_slice(self.data());
        pool.borrow_mut().give(std::mem::replace(&mut self.buf, bigger));
        self.set(0, len);
    }

    /// Makes at least `need` bytes of room after the data: moves the data to the front,
    /// then grows the buffer if that is not enough (a grown buffer is not pooled again).
    pub fn make_room(&mut self, pool: &SharedPool, kind: Kind, need: usize) {
        self.hold(pool, kind);
        if self.spare_len() >= need {
            return;
        }
        if self.start > 0 {
            let (start, end) = (self.start(), self.end());
            self.buf.copy_within(start..end, 0);
            self.set(0, end - start);
        }
        if self.spare_len() < need {
            self.buf.resize(self.end() + need, 0);
        }
    }

    /// Appends `bytes`, making room as needed.
    pub fn push(&mut self, pool: &SharedPool, kind: Kind, bytes: &[u8]) {
        self.make_room(pool, kind, bytes.len());
        let end = self.end();
        self.buf[end..end + bytes.len()].copy_from_slice(bytes);
        self.filled(bytes.len());
    }

    /// Moves as many bytes as fit into `out`.
    pub fn take_into(&mut self, out: &mut [u8]) -> usize {
        let n = self.len().min(out.len());
        out[..n].copy_from_slice(&self.data()[..n]);
        self.consume(n);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drained_chunk_gives_its_buffer_back() {
        let pool = Pool::shared();
        let mut chunk = Chunk::default();
        chunk.push(&pool, Kind::Plain, b"hello");
        assert_eq!(chunk.data(), b"hello");
        chunk.release(&pool);
        assert_eq!(pool.borrow().held_bytes(), 0, "a chunk holding bytes keeps its buffer");
        let mut out = [0u8; 5];
        assert_eq!(chunk.take_into(&mut out), 5);
        chunk.release(&pool);
        assert_eq!(pool.borrow().held_bytes(), RECORD);
        assert_eq!(chunk.spare_len(), 0, "an empty chunk holds no buffer");
    }

    #[test]
    fn make_room_compacts_before_growing() {
        let pool = Pool::shared();
        let mut chunk = Chunk::default();
        chunk.push(&pool, Kind::Plain, &[7; RECORD]);
        chunk.consume(RECORD - 10);
        chunk.make_room(&pool, Kind::Plain, 100);
        assert_eq!(chunk.data(), &[7; 10]);
        assert_eq!(chunk.spare_len(), RECORD - 10, "compacted, not grown");
        chunk.make_room(&pool, Kind::Plain, RECORD);
        assert!(chunk.spare_len() >= RECORD);
    }

    #[test]
    fn the_pool_keeps_a_bounded_number_of_buffers() {
        let pool = Pool::shared();
        for _ in 0..100 {
            pool.borrow_mut().give(vec![0; OUTPUT_SIZE]);
        }
        assert!(pool.borrow().held_bytes() <= KEEP_BYTES);
        pool.borrow_mut().give(vec![0; RECORD + 1]);
        assert_eq!(pool.borrow().plain.len(), 0, "a grown buffer is freed");
    }

    #[test]
    fn a_small_buffer_moves_its_bytes_into_a_big_one() {
        let pool = Pool::shared();
        let mut chunk = Chunk::default();
        chunk.push(&pool, Kind::SmallInput, b"hello");
        assert_eq!(chunk.capacity(), SMALL_INPUT_SIZE);
        chunk.consume(1);
        chunk.move_to(&pool, Kind::Input);
        assert_eq!((chunk.data(), chunk.capacity()), (&b"ello"[..], INPUT_SIZE));
        assert_eq!(pool.borrow().small_input.len(), 1, "the small buffer went back to the pool");
    }
}
