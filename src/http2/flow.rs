//! Flow-control windows (RFC 9113 §5.2 and §6.9): one `Window` per direction per stream and
//! per connection, holding the signed 31-bit arithmetic of the RFC in an `i64` so that no
//! operation can overflow, and refusing what the RFC calls FLOW_CONTROL_ERROR.
//!
//! It does not decide when to send WINDOW_UPDATE, whether an error is the stream's or the
//! connection's (the caller knows which window it asked), nor how DATA is scheduled against
//! the windows: it only keeps the counts honest.

use super::ErrorCode;
use super::frame::MAX_WINDOW_SIZE;

/// The window every stream and the connection start with until SETTINGS say otherwise
/// (§6.9.2): 2^16-1.
pub const DEFAULT_WINDOW_SIZE: u32 = 65_535;

/// Why a window operation was refused; each is a FLOW_CONTROL_ERROR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowError {
    /// A WINDOW_UPDATE or SETTINGS change would take the window past 2^31-1.
    Overflow,
    /// The peer sent more than the window allowed.
    Exhausted,
}

impl FlowError {
    /// The RFC error code: always FLOW_CONTROL_ERROR.
    pub fn code(self) -> ErrorCode {
        ErrorCode::FlowControlError
    }
}

/// A flow-control window: at most 2^31-1, and negative only after a SETTINGS change shrank
/// it below what was already in flight (§6.9.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window(i64);

impl Default for Window {
    fn default() -> Self {
        Window::new(DEFAULT_WINDOW_SIZE)
    }
}

impl Window {
    /// A window of `initial` bytes (clamped to 2^31-1, which SETTINGS decoding enforces).
    pub fn new(initial: u32) -> Window {
        Window(i64::from(initial.min(MAX_WINDOW_SIZE)))
    }

    /// The window's value, possibly negative.
    pub fn size(self) -> i64 {
        self.0
    }

    /// How many bytes may be sent (or received) now: 0 when the window is negative.
    pub fn available(self) -> u32 {
        u32::try_from(self.0.max(0)).unwrap_or(MAX_WINDOW_SIZE)
    }

    /// Uses `n` bytes of the window; more than is available is refused and changes nothing.
    pub fn consume(&mut self, n: u32) -> Result<(), FlowError> {
        if n > self.available() {
            return Err(FlowError::Exhausted);
        }
        self.0 -= i64::from(n);
        Ok(())
    }

    /// Adds a WINDOW_UPDATE increment; past 2^31-1 is refused and changes nothing (§6.9.1).
    pub fn grant(&mut self, increment: u32) -> Result<(), FlowError> {
        self.shift(i64::from(increment))
    }

    /// Applies a change of SETTINGS_INITIAL_WINDOW_SIZE from `old` to `new` to an open
    /// stream's window (§6.9.2): it may go negative; past 2^31-1 is refused.
    pub fn apply_initial_change(&mut self, old: u32, new: u32) -> Result<(), FlowError> {
        self.shift(i64::from(new) - i64::from(old))
    }

    fn shift(&mut self, delta: i64) -> Result<(), FlowError> {
        let next = self.0.saturating_add(delta);
        if next > i64::from(MAX_WINDOW_SIZE) {
            return Err(FlowError::Overflow);
        }
        self.0 = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u32 = MAX_WINDOW_SIZE;

    #[test]
    fn consume_within_the_window_only() {
        let cases: [(u32, u32, Result<i64, FlowError>); 6] = [
            (65_535, 0, Ok(65_535)),
            (65_535, 1, Ok(65_534)),
            (65_535, 65_535, Ok(0)),
            (65_535, 65_536, Err(FlowError::Exhausted)),
            (0, 1, Err(FlowError::Exhausted)),
            (MAX, u32::MAX, Err(FlowError::Exhausted)),
        ];
        for (initial, n, want) in cases {
            let mut w = Window::new(initial);
            let got = w.consume(n).map(|()| w.size());
            assert_eq!(got, want, "{initial} - {n}");
            if got.is_err() {
                assert_eq!(w.size(), i64::from(initial), "a refused consume changes nothing");
            }
        }
    }

    #[test]
    fn grants_stop_at_2_31_minus_1() {
        let cases: [(u32, u32, Result<i64, FlowError>); 5] = [
            (0, 1, Ok(1)),
            (65_535, MAX - 65_535, Ok(i64::from(MAX))),
            (65_535, MAX - 65_534, Err(FlowError::Overflow)),
            (MAX, 1, Err(FlowError::Overflow)),
            (1, u32::MAX, Err(FlowError::Overflow)),
        ];
        for (initial, increment, want) in cases {
            let mut w = Window::new(initial);
            assert_eq!(w.grant(increment).map(|()| w.size()), want, "{initial} + {increment}");
        }
        assert_eq!(FlowError::Overflow.code(), ErrorCode::FlowControlError);
    }

    #[test]
    fn initial_window_changes_may_go_negative_but_not_past_the_max() {
        // (window now, old initial, new initial, result)
        let cases: [(u32, u32, u32, Result<i64, FlowError>); 6] = [
            (65_535, 65_535, 131_070, Ok(131_070)),
            (10, 65_535, 0, Ok(10 - 65_535)),
            (0, MAX, 0, Ok(-i64::from(MAX))),
            (100, 100, 100, Ok(100)),
            (MAX, 0, 1, Err(FlowError::Overflow)),
            (70_000, 65_535, MAX, Err(FlowError::Overflow)),
        ];
        for (now, old, new, want) in cases {
            let mut w = Window::new(now);
            assert_eq!(w.apply_initial_change(old, new).map(|()| w.size()), want, "{now}: {old} -> {new}");
        }
    }

    #[test]
    fn a_negative_window_has_nothing_available_until_granted() {
        let mut w = Window::new(10);
        w.apply_initial_change(65_535, 0).unwrap();
        assert_eq!(w.available(), 0);
        assert_eq!(w.consume(1), Err(FlowError::Exhausted));
        assert_eq!(w.consume(0), Ok(()));
        w.grant(65_525).unwrap();
        assert_eq!((w.size(), w.available()), (0, 0));
        w.grant(5).unwrap();
        assert_eq!(w.available(), 5);
        assert_eq!(Window::default().available(), DEFAULT_WINDOW_SIZE);
        assert_eq!(Window::new(u32::MAX).available(), MAX);
    }
}
