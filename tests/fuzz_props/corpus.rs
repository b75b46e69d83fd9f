//! A seed corpus for the `request_path` fuzz target: generated cases in `run_raw` format.
use std::path::Path;

use super::fixture::Fixture;
use super::generate::gen_case;
use super::rng::Rng;

/// Writes `count` generated cases of at most 4000 bytes into `dir` as `seed-NNNN`, each
/// its two setup bytes then the client's bytes.
pub fn write_seeds(dir: &Path, count: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let fx = Fixture::create("seeds");
    let mut rng = Rng::new(0x5EED_5EED);
    let mut written = 0;
    while written < count {
        let case = gen_case(&mut rng, &fx);
        if case.input.len() > 4000 {
            continue;
        }
        let mut data = case.bits.to_vec();
        data.extend_from_slice(&case.input);
        std::fs::write(dir.join(format!("seed-{written:04}")), data).unwrap();
        written += 1;
    }
}
