//! `tls::Settings`: certificate and key loading errors name the file and the problem;
//! a failed reload keeps the config in force.
mod tls_util;

use std::path::Path;
use std::sync::Arc;

use evserve::net::tls::{Problem, Settings, TlsError};
use tls_util::{Pki, temp_dir};

fn load_err(cert: &Path, key: &Path) -> TlsError {
    match Settings::load(cert, key, true) {
        Ok(_) => panic!("{} / {} loaded", cert.display(), key.display()),
        Err(e) => e,
    }
}

#[test]
fn a_good_chain_and_pkcs8_key_load() {
    let pki = Pki::new();
    let config = Settings::load(&pki.cert, &pki.key, true).unwrap();
    assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    assert_eq!(config.max_early_data_size, 0);
    assert!(config.ticketer.enabled());
    let off = Settings::load(&pki.cert, &pki.key, false).unwrap();
    assert!(!off.ticketer.enabled());
    assert_eq!(off.send_tls13_tickets, 0);
}

/// The key inside a PKCS#8 key (the last OCTET STRING's contents): SEC1 for EC, PKCS#1 for RSA.
fn sec1_of(pkcs8: &[u8]) -> Vec<u8> {
    fn header(der: &[u8], at: usize) -> (usize, usize) {
        let first = der[at + 1] as usize;
        if first < 0x80 {
            return (at + 2, first);
        }
        let n = first & 0x7f;
        let len = der[at + 2..at + 2 + n].iter().fold(0, |acc, &b| acc << 8 | b as usize);
        (at + 2 + n, len)
    }
    let (body, _) = header(pkcs8, 0); // PrivateKeyInfo SEQUENCE
    let (version, vlen) = header(pkcs8, body); // INTEGER 0
    let (alg, alen) = header(pkcs8, version + vlen); // AlgorithmIdentifier
    let (key, klen) = header(pkcs8, alg + alen); // OCTET STRING
    assert_eq!(pkcs8[alg + alen], 0x04);
    pkcs8[key..key + klen].to_vec()
}

fn pem(label: &str, der: &[u8]) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in der.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            text.push(if i <= chunk.len() { B64[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    let lines: Vec<&str> = text.as_bytes().chunks(64).map(|l| std::str::from_utf8(l).unwrap()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

#[test]
fn a_sec1_key_loads() {
    let pki = Pki::new();
    let key = pki.dir.join("sec1.pem");
    std::fs::write(&key, pem("EC PRIVATE KEY", &sec1_of(&pki.leaf_key_pkcs8))).unwrap();
    Settings::load(&pki.cert, &key, true).unwrap();
}

#[test]
fn a_missing_file_is_named() {
    let pki = Pki::new();
    let missing = pki.dir.join("nope.pem");
    let err = load_err(&missing, &pki.key);
    assert!(matches!(err.problem, Problem::Missing));
    assert_eq!(err.path, missing);
    assert_eq!(err.to_string(), format!("{}: no such file", missing.display()));
    let err = load_err(&pki.cert, &missing);
    assert_eq!(err.path, missing);
}

#[test]
fn a_pem_without_a_certificate_is_named() {
    let pki = Pki::new();
    // The key file where the chain should be.
    let err = load_err(&pki.key, &pki.key);
    assert!(matches!(err.problem, Problem::NoCertificate), "{err}");
    assert_eq!(err.path, pki.key);
    assert!(err.to_string().contains("no certificate"), "{err}");
}

#[test]
fn a_pem_without_a_key_is_named() {
    let pki = Pki::new();
    let err = load_err(&pki.cert, &pki.cert);
    assert!(matches!(err.problem, Problem::NoKey), "{err}");
    assert_eq!(err.path, pki.cert);
    assert!(err.to_string().contains("no private key"), "{err}");
}

#[test]
fn a_key_of_another_certificate_is_named() {
    let pki = Pki::new();
    let other = Pki::new();
    let err = load_err(&pki.cert, &other.key);
    assert!(matches!(err.problem, Problem::KeyMismatch { .. }), "{err}");
    assert_eq!(err.path, other.key);
    let text = err.to_string();
    assert!(
        text.contains("does not match the certificate in") && text.contains(&*pki.cert.to_string_lossy()),
        "{text}"
    );
}

#[test]
fn an_unparsable_key_is_an_unsupported_key_type() {
    let pki = Pki::new();
    let key = pki.dir.join("odd.pem");
    std::fs::write(&key, pem("PRIVATE KEY", &[0x30, 0x03, 0x02, 0x01, 0x07])).unwrap();
    let err = load_err(&pki.cert, &key);
    assert!(matches!(err.problem, Problem::UnsupportedKey(_)), "{err}");
    assert_eq!(err.path, key);
}

#[test]
fn malformed_pem_is_named() {
    let pki = Pki::new();
    let bad = pki.dir.join("bad.pem");
    std::fs::write(&bad, "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n").unwrap();
    let err = load_err(&bad, &pki.key);
    assert!(matches!(err.problem, Problem::BadPem(_)), "{err}");
    assert_eq!(err.path, bad);
}

#[test]
fn a_failed_reload_keeps_the_config_and_a_good_one_replaces_it() {
    let pki = Pki::new();
    let dir = temp_dir("reload");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::copy(&pki.cert, &cert).unwrap();
    std::fs::copy(&pki.key, &key).unwrap();
    let mut settings = Settings::open(&cert, &key, true).unwrap();
    let before = settings.config().clone();

    // certbot wrote the new key but not yet the new chain: refused, the old one stays.
    let renewed = Pki::new();
    std::fs::copy(&renewed.key, &key).unwrap();
    let err = settings.reload().unwrap_err();
    assert!(matches!(err.problem, Problem::KeyMismatch { .. }), "{err}");
    assert!(Arc::ptr_eq(settings.config(), &before));

    std::fs::copy(&renewed.cert, &cert).unwrap();
    settings.reload().unwrap();
    assert!(!Arc::ptr_eq(settings.config(), &before));
    // The ticket key survives the reload: tickets issued before it still resume.
    assert!(Arc::ptr_eq(&settings.config().ticketer, &before.ticketer));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_rsa_key_loads_as_pkcs8_and_pkcs1() {
    let dir = temp_dir("rsa");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().self_signed(&key).unwrap();
    let cert_path = dir.join("cert.pem");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    let pkcs8 = dir.join("pkcs8.pem");
    std::fs::write(&pkcs8, key.serialize_pem()).unwrap();
    Settings::load(&cert_path, &pkcs8, true).unwrap();
    // PKCS#8 wraps the PKCS#1 RSAPrivateKey in its last OCTET STRING, as it wraps SEC1.
    let pkcs1 = dir.join("pkcs1.pem");
    std::fs::write(&pkcs1, pem("RSA PRIVATE KEY", &sec1_of(&key.serialize_der()))).unwrap();
    Settings::load(&cert_path, &pkcs1, true).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}
