//! The driver: how one input is delivered (`Setup`), a `Connection` driven over the shared
//! mock stream until it closes or goes idle (`drive`), and one case run and checked with
//! panics turned into errors (`run_case`, `run_raw` for the fuzz target).
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use evserve::http1::request::Limits;
use evserve::site::{Site, SiteOptions};
use evserve::testing::{Connection, Context, Status};
use evserve::util::timer::Timeouts;

use super::check::{Expect, check};
use super::fixture::Fixture;
use super::mock::{Mock, Script};
use super::shrink::response_heads;

/// A driven connection that neither closes nor makes progress for this many turns in a
/// row is livelocked (the mock never refuses more than two operations in a row).
const STALL_MAX: usize = 8;

/// Hard cap on turns per input, and on output per input.
const TURNS_MAX: usize = 200_000;
const OUTPUT_MAX: usize = 64 << 20;

/// How one input is delivered and served.
#[derive(Debug, Clone)]
pub struct Setup {
    pub limits: Limits,
    pub options: SiteOptions,
    /// After the input, reads return EOF (else `WouldBlock` forever).
    pub eof: bool,
    /// With `eof`: report the half-close as readiness (`read_closed`), as EPOLLRDHUP does.
    pub hup: bool,
    /// Sometimes refuse a read or write with `WouldBlock` (never more than twice in a row).
    pub faults: bool,
    /// Largest read and write sizes (each op picks at random up to this, or all).
    pub read_max: usize,
    pub write_max: usize,
    /// When the run goes idle, fire the connection's timeout.
    pub timeout_at_end: bool,
    pub seed: u64,
}

const READ_SIZES: [usize; 6] = [1, 3, 16, 200, 4096, 1 << 20];
const WRITE_SIZES: [usize; 5] = [1, 7, 100, 5000, 1 << 20];

impl Setup {
    /// A setup from two bytes (the fuzz target's first two).
    pub fn from_bits(flags: u8, seed: u8) -> Setup {
        let limits = match flags & 3 {
            0 | 1 => Limits::default(),
            2 => Limits { max_head_bytes: 600, max_uri_bytes: 200, max_headers: 10, max_body_bytes: 100 },
            _ => Limits { max_head_bytes: 20_000, max_uri_bytes: 16_000, max_headers: 200, max_body_bytes: 1 << 20 },
        };
        Setup {
            limits,
            options: site_options(flags >> 6),
            eof: flags & 4 != 0,
            hup: flags & 8 != 0,
            faults: flags & 16 != 0,
            timeout_at_end: flags & 32 != 0,
            read_max: READ_SIZES[seed as usize % READ_SIZES.len()],
            write_max: WRITE_SIZES[(seed as usize / READ_SIZES.len()) % WRITE_SIZES.len()],
            seed: u64::from(seed),
        }
    }

    /// How the mock stream delivers the input under this setup.
    pub fn script(&self) -> Script {
        Script {
            eof: self.eof,
            faults: self.faults,
            read_max: self.read_max,
            write_max: self.write_max,
            seed: self.seed,
        }
    }
}

/// The site options of setup bits 6 and 7: none, dotfiles and listing, SPA, or everything
/// with an extra header.
fn site_options(bits: u8) -> SiteOptions {
    let mut options = SiteOptions::default();
    match bits {
        0 => {}
        1 => {
            options.dotfiles = true;
            options.listing = true;
        }
        2 => options.spa = true,
        _ => {
            options.dotfiles = true;
            options.listing = true;
            options.spa = true;
            options.headers = vec![("X-Extra".into(), "yes".into())];
        }
    }
    options
}

/// What a run left behind.
#[derive(Debug)]
pub struct Run {
    pub output: Vec<u8>,
    /// `drive` returned `Close` (not counting a timeout at the end).
    pub closed: bool,
    /// The connection half-closed (lingering close).
    pub shut: bool,
    /// The timeout fired at the end.
    pub timed_out: bool,
    pub turns: usize,
}

/// One connection over the mock stream, turn by turn.
pub struct Driver {
    pub cx: Context,
    pub conn: Connection,
    pub mock: Mock,
    pub turns: usize,
    /// Report the half-close as readiness once the input is delivered.
    hup: bool,
}

impl Driver {
    pub fn new(input: &[u8], setup: &Setup, site: Site) -> Driver {
        let cx = Context::new(site, setup.limits, Timeouts::default(), None);
        let conn = Connection::new(None, cx.now);
        let mock = Mock::new(input, &setup.script());
        Driver { cx, conn, mock, turns: 0, hup: setup.eof && setup.hup }
    }

    /// One readiness edge and one `drive`; errors when a cap is crossed or the connection
    /// misused the stream.
    pub fn turn(&mut self) -> Result<Status, String> {
        self.turns += 1;
        if self.turns > TURNS_MAX {
            return Err(format!("no end after {TURNS_MAX} turns ({} bytes out)", self.mock.output.len()));
        }
        if self.mock.output.len() > OUTPUT_MAX {
            return Err(format!("more than {OUTPUT_MAX} bytes of output"));
        }
        self.mock.begin_turn();
        let hup = self.hup && self.mock.all_read();
        self.conn.ready(true, true, hup);
        self.cx.tick();
        let status = self.conn.drive(&mut self.mock, &mut self.cx);
        self.mock.take_violation().map_or(Ok(status), Err)
    }

    /// Turns until the connection closes (true), or all input is delivered and it waits
    /// twice with nothing to do (false).
    fn until_close_or_idle(&mut self) -> Result<bool, String> {
        let (mut stall, mut idle) = (0, 0);
        loop {
            let status = self.turn()?;
            if status == Status::Close {
                return Ok(true);
            }
            if self.mock.moved() {
                (stall, idle) = (0, 0);
                continue;
            }
            stall += 1;
            if stall > STALL_MAX {
                return Err(self.livelock(stall, status));
            }
            if status == Status::Wait && !self.mock.injected() && self.mock.exhausted() {
                idle += 1;
                if idle >= 2 {
                    return Ok(false);
                }
            }
        }
    }

    fn livelock(&self, stall: usize, status: Status) -> String {
        let (pos, len) = self.mock.delivered();
        format!(
            "livelock: {stall} turns in a row without progress, last status {status:?}, state {}, \
             {pos} of {len} input bytes delivered",
            self.conn.state_name(),
        )
    }

    /// Fires the timeout, which must close. It writes once without waiting: that write is
    /// let through whole.
    fn time_out(&mut self) -> Result<(), String> {
        self.mock.take_every_write();
        let status = self.conn.on_timeout(&mut self.mock, &mut self.cx);
        if let Some(v) = self.mock.take_violation() {
            return Err(v);
        }
        if status != Status::Close {
            return Err(format!("on_timeout returned {status:?}"));
        }
        Ok(())
    }

    fn into_run(self, closed: bool, timed_out: bool) -> Run {
        Run { output: self.mock.output, closed, shut: self.mock.shut, timed_out, turns: self.turns }
    }
}

/// Drives a connection over `input` until it closes, or until all input is delivered and
/// it waits twice with nothing to do. Errors name the broken property.
pub fn drive(input: &[u8], setup: &Setup, site: Site) -> Result<Run, String> {
    let mut d = Driver::new(input, setup, site);
    if d.until_close_or_idle()? {
        return Ok(d.into_run(true, false));
    }
    if setup.timeout_at_end {
        d.time_out()?;
    }
    Ok(d.into_run(false, setup.timeout_at_end))
}

/// What the generated runs covered (printed by the tests, `--nocapture` to see it).
#[derive(Debug, Default)]
pub struct Stats {
    pub cases: usize,
    pub well_formed: usize,
    pub turns: usize,
    pub bytes_out: usize,
    pub closed: usize,
    pub half_closed: usize,
    pub timed_out: usize,
    pub statuses: std::collections::BTreeMap<u16, usize>,
}

impl Stats {
    fn count(&mut self, run: &Run, well_formed: bool) {
        self.cases += 1;
        self.well_formed += usize::from(well_formed);
        self.turns += run.turns;
        self.bytes_out += run.output.len();
        self.closed += usize::from(run.closed);
        self.half_closed += usize::from(run.shut);
        self.timed_out += usize::from(run.timed_out);
        for head in response_heads(&run.output) {
            if let Some(code) = head.get(9..12).and_then(|c| std::str::from_utf8(c).ok()?.parse().ok()) {
                *self.statuses.entry(code).or_default() += 1;
            }
        }
    }
}

/// `drive`, with a panic turned into an error.
pub fn drive_caught(input: &[u8], setup: &Setup, site: Site) -> Result<Run, String> {
    match catch_unwind(AssertUnwindSafe(|| drive(input, setup, site))) {
        Ok(run) => run,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("panic: {msg}"))
        }
    }
}

/// Drives and checks one input, turning a panic into an error.
pub fn run_case(input: &[u8], setup: &Setup, root: &Path, expect: Option<&[Expect]>) -> Result<(), String> {
    run_case_stats(input, setup, root, expect, &mut Stats::default())
}

/// `run_case`, counting what the run covered into `stats`.
pub fn run_case_stats(
    input: &[u8],
    setup: &Setup,
    root: &Path,
    expect: Option<&[Expect]>,
    stats: &mut Stats,
) -> Result<(), String> {
    let site = Site::new(root, setup.options.clone()).map_err(|e| format!("Site::new: {e}"))?;
    let run = drive_caught(input, setup, site)?;
    stats.count(&run, expect.is_some());
    check(input, setup, &run, expect)
}

/// The fuzz target's entry: `data[0]` chooses the setup (`Setup::from_bits`), `data[1]` the
/// read/write sizes and the mock's seed, the rest is what the client sends.
pub fn run_raw(data: &[u8], fx: &Fixture) -> Result<(), String> {
    let [flags, seed, input @ ..] = data else { return Ok(()) };
    run_case(input, &Setup::from_bits(*flags, *seed), &fx.root, None)
}

/// Replays `case` turn by turn on stderr, then checks it (the `replay` test's body).
pub fn trace(case: &super::generate::Case, fx: &Fixture) {
    eprintln!("setup: {:?}\ninput: {} bytes, expect: {:?}", case.setup, case.input.len(), case.expect);
    let site = Site::new(&fx.root, case.setup.options.clone()).unwrap();
    let mut d = Driver::new(&case.input, &case.setup, site);
    for turn in 0..100_000 {
        let (pos, out) = (d.mock.delivered().0, d.mock.output.len());
        let status = d.turn();
        let now = d.mock.delivered().0;
        eprintln!(
            "turn {turn}: {status:?} state {} read {pos}..{now} wrote {} shut {}",
            d.conn.state_name(),
            d.mock.output.len() - out,
            d.mock.shut
        );
        let stuck = d.mock.all_read() && d.mock.output.len() == out && pos == now;
        if matches!(status, Ok(Status::Close) | Err(_)) || stuck {
            break;
        }
    }
    for head in response_heads(&d.mock.output) {
        eprintln!("  {}", head.escape_ascii());
    }
    eprintln!("check: {:?}", run_case(&case.input, &case.setup, &fx.root, case.expect.as_deref()));
}
