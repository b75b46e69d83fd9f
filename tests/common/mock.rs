//! An in-memory socket for driving a `Connection` without the kernel: scripted input handed
//! over in random-sized reads, output taken in random-sized writes, sometimes refused with
//! `WouldBlock`, and a record of what the connection did wrong (an empty read buffer, a
//! write after half-closing). Needs `super::rng` beside it; the fuzz crate includes both
//! files with `#[path]`.
use std::io::{self, Read, Write};

use evserve::testing::Transport;

use super::rng::Rng;

/// How the mock delivers its input and takes output.
#[derive(Debug, Clone, Copy)]
pub struct Script {
    /// After the input, reads return EOF (else `WouldBlock` forever).
    pub eof: bool,
    /// Sometimes refuse a read or write with `WouldBlock` (never more than twice in a row).
    pub faults: bool,
    /// Largest read and write sizes (each op picks at random up to this, or all).
    pub read_max: usize,
    pub write_max: usize,
    pub seed: u64,
}

/// An in-memory socket: scripted input, recorded output.
pub struct Mock {
    input: Vec<u8>,
    pos: usize,
    eof: bool,
    eof_seen: bool,
    pub output: Vec<u8>,
    pub shut: bool,
    rng: Rng,
    faults: bool,
    read_max: usize,
    write_max: usize,
    refusals: u32,
    /// This turn moved bytes (or delivered EOF, or half-closed).
    moved: bool,
    /// This turn the mock refused an operation on its own.
    injected: bool,
    violation: Option<String>,
}

impl Mock {
    pub fn new(input: &[u8], script: &Script) -> Mock {
        Mock {
            input: input.to_vec(),
            pos: 0,
            eof: script.eof,
            eof_seen: false,
            output: Vec::new(),
            shut: false,
            rng: Rng::new(script.seed ^ (input.len() as u64).rotate_left(32)),
            faults: script.faults,
            read_max: script.read_max,
            write_max: script.write_max,
            refusals: 0,
            moved: false,
            injected: false,
            violation: None,
        }
    }

    /// Starts a turn: forgets whether the last one moved bytes or refused on its own.
    pub fn begin_turn(&mut self) {
        self.moved = false;
        self.injected = false;
    }

    /// This turn moved bytes, delivered EOF, or half-closed.
    pub fn moved(&self) -> bool {
        self.moved
    }

    /// This turn the mock refused an operation on its own (so a `Wait` is not idleness).
    pub fn injected(&self) -> bool {
        self.injected
    }

    /// How many input bytes were read so far, and how many there are.
    pub fn delivered(&self) -> (usize, usize) {
        (self.pos, self.input.len())
    }

    /// Every input byte was read.
    pub fn all_read(&self) -> bool {
        self.pos == self.input.len()
    }

    /// Every input byte was read, and the EOF too when there is one.
    pub fn exhausted(&self) -> bool {
        self.all_read() && (!self.eof || self.eof_seen)
    }

    /// What the connection did that a socket would not have allowed, once.
    pub fn take_violation(&mut self) -> Option<String> {
        self.violation.take()
    }

    /// From now on every write is taken whole and never refused.
    pub fn take_every_write(&mut self) {
        self.faults = false;
        self.write_max = usize::MAX - 1;
    }

    fn refuse(&mut self) -> bool {
        if self.faults && self.refusals < 2 && self.rng.chance(1, 6) {
            self.refusals += 1;
            self.injected = true;
            return true;
        }
        self.refusals = 0;
        false
    }

    fn size(&mut self, max: usize) -> usize {
        if self.rng.chance(1, 4) { usize::MAX } else { 1 + self.rng.below(max) }
    }

    /// The read once the input is all delivered: EOF once (then again), or `WouldBlock`.
    fn read_past_input(&mut self) -> io::Result<usize> {
        if !self.eof {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if !self.eof_seen {
            self.eof_seen = true;
            self.moved = true;
        }
        Ok(0)
    }
}

impl Read for Mock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            self.violation = Some("read into an empty buffer (looks like EOF to the caller)".into());
            return Ok(0);
        }
        if self.refuse() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if self.all_read() {
            return self.read_past_input();
        }
        let n = self.size(self.read_max).min(buf.len()).min(self.input.len() - self.pos);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        self.moved = true;
        Ok(n)
    }
}

impl Write for Mock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.shut {
            self.violation = Some("write after shutdown_write".into());
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        if buf.is_empty() {
            return Ok(0);
        }
        if self.refuse() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.size(self.write_max).min(buf.len());
        self.output.extend_from_slice(&buf[..n]);
        self.moved = true;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Mock {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shut = true;
        self.moved = true;
        Ok(())
    }
}
