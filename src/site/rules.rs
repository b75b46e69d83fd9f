//! Response fields chosen by path: `--cache-control-for GLOB VALUE` and
//! `--header-for GLOB 'Name: value'`. `SiteOptions::fields_for` turns the site-wide fields
//! and these rules into the fields one file's 2xx and 304 responses carry. It is pure and
//! meant to run once per cached file, not per request; it matches paths, it does not
//! resolve them.
use crate::util::glob::Glob;

use super::SiteOptions;

/// One `--cache-control-for` or `--header-for`, values already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRule {
    pub glob: Glob,
    /// `--cache-control-for`: this Cache-Control replaces the site-wide one.
    pub cache_control: Option<String>,
    /// `--header-for`: this field is added.
    pub header: Option<(String, String)>,
}

impl PathRule {
    pub fn cache_control(glob: Glob, value: String) -> PathRule {
        PathRule { glob, cache_control: Some(value), header: None }
    }

    pub fn header(glob: Glob, name: String, value: String) -> PathRule {
        PathRule { glob, cache_control: None, header: Some((name, value)) }
    }
}

const CACHE_CONTROL: &str = "Cache-Control";

impl SiteOptions {
    /// The fields a 2xx or 304 for `path` (decoded, normalised, starting with `/`: the file
    /// served, so `/docs/index.html` for `/docs/`) ends with, in this order:
    ///
    /// 1. Cache-Control: the value of the first `--cache-control-for` rule whose glob
    ///    matches, in place of any site-wide Cache-Control (from `--cache-control`, or a
    ///    `--header` of that name); with no such rule, the site-wide fields as they are;
    /// 2. the other site-wide fields (`--header`), in order;
    /// 3. the field of every `--header-for` rule whose glob matches, in order (added, even
    ///    if a site-wide field has the same name).
    pub fn fields_for(&self, path: &str) -> Vec<(String, String)> {
        let cache_control = self.rules.iter().find_map(|r| r.cache_control.as_ref().filter(|_| r.glob.matches(path)));
        let mut fields: Vec<(String, String)> = match cache_control {
            Some(value) => std::iter::once((CACHE_CONTROL.to_string(), value.clone()))
                .chain(self.headers.iter().filter(|(name, _)| !name.eq_ignore_ascii_case(CACHE_CONTROL)).cloned())
                .collect(),
            None => self.headers.clone(),
        };
        let added = self.rules.iter().filter_map(|r| r.header.as_ref().filter(|_| r.glob.matches(path)));
        fields.extend(added.cloned());
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    fn options() -> SiteOptions {
        let cc = |glob: &str, value: &str| PathRule::cache_control(Glob::new(glob).unwrap(), value.into());
        let header =
            |glob: &str, name: &str, value: &str| PathRule::header(Glob::new(glob).unwrap(), name.into(), value.into());
        SiteOptions {
            headers: vec![pair("Cache-Control", "max-age=60"), pair("X-Site", "1")],
            rules: vec![
                cc("/assets/**", "public, max-age=31536000, immutable"),
                cc("*.html", "no-cache"),
                // Never reached for .html under /assets: the first match wins.
                cc("/assets/*.html", "private"),
                header("*.{js,css}", "X-Asset", "yes"),
                header("/assets/**", "Timing-Allow-Origin", "*"),
                header("*.html", "X-Site", "2"),
            ],
            ..SiteOptions::default()
        }
    }

    #[test]
    fn the_table() {
        let site_wide = [pair("Cache-Control", "max-age=60"), pair("X-Site", "1")];
        let immutable = pair("Cache-Control", "public, max-age=31536000, immutable");
        let cases: &[(&str, Vec<(String, String)>)] = &[
            ("/robots.txt", site_wide.to_vec()),
            ("/index.html", vec![pair("Cache-Control", "no-cache"), pair("X-Site", "1"), pair("X-Site", "2")]),
            (
                "/assets/app.js",
                vec![immutable.clone(), pair("X-Site", "1"), pair("X-Asset", "yes"), pair("Timing-Allow-Origin", "*")],
            ),
            (
                "/assets/a/page.html",
                vec![immutable.clone(), pair("X-Site", "1"), pair("Timing-Allow-Origin", "*"), pair("X-Site", "2")],
            ),
            ("/js/app.js", [&site_wide[..], &[pair("X-Asset", "yes")]].concat()),
        ];
        let options = options();
        for (path, expected) in cases {
            assert_eq!(&options.fields_for(path), expected, "{path}");
        }
    }

    #[test]
    fn a_path_rule_replaces_a_cache_control_from_header_too() {
        let options = SiteOptions {
            headers: vec![pair("cache-control", "max-age=1"), pair("X-A", "a")],
            rules: vec![PathRule::cache_control(Glob::new("*.html").unwrap(), "no-store".into())],
            ..SiteOptions::default()
        };
        assert_eq!(options.fields_for("/a.html"), vec![pair("Cache-Control", "no-store"), pair("X-A", "a")]);
        assert_eq!(options.fields_for("/a.css"), options.headers);
    }

    #[test]
    fn without_a_site_wide_cache_control_a_rule_adds_one() {
        let options = SiteOptions {
            rules: vec![PathRule::cache_control(Glob::new("/**").unwrap(), "no-cache".into())],
            ..SiteOptions::default()
        };
        assert_eq!(options.fields_for("/x"), vec![pair("Cache-Control", "no-cache")]);
        assert!(SiteOptions::default().fields_for("/x").is_empty());
    }
}
