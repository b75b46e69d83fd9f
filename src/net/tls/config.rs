//! Loading the certificate and key into a rustls `ServerConfig` with evserve's policy:
//! TLS 1.2 and 1.3, AEAD suites, ALPN `http/1.1` only, no 0-RTT, resumption by tickets.
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{NoServerSessionStorage, ProducesTickets, ServerSessionMemoryCache, StoresServerSessions};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{InconsistentKeys, ServerConfig};

/// The only application protocol spoken: a client offering only `h2` gets a
/// `no_application_protocol` alert.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The ALPN name of HTTP/2 over TLS.
pub const ALPN_H2: &[u8] = b"h2";

/// TLS 1.2 session IDs remembered for clients that do not take tickets.
const SESSION_CACHE_ENTRIES: usize = 256;

/// A certificate or key that cannot be used, naming the file at fault.
#[derive(Debug)]
pub struct TlsError {
    pub path: PathBuf,
    pub problem: Problem,
}

/// What is wrong with the file `TlsError::path`.
#[derive(Debug)]
pub enum Problem {
    Missing,
    Unreadable(io::Error),
    BadPem(String),
    NoCertificate,
    NoKey,
    /// The key is not the one the certificate (in this file) was issued for.
    KeyMismatch {
        certificate: PathBuf,
    },
    UnsupportedKey(String),
    /// rustls refused the resulting configuration (not expected with these settings).
    Config(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path.display())?;
        match &self.problem {
            Problem::Missing => f.write_str("no such file"),
            Problem::Unreadable(e) => write!(f, "cannot be read: {e}"),
            Problem::BadPem(e) => write!(f, "malformed PEM: {e}"),
            Problem::NoCertificate => f.write_str("no certificate in the PEM (expected BEGIN CERTIFICATE)"),
            Problem::NoKey => {
                f.write_str("no private key in the PEM (expected PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)")
            }
            Problem::KeyMismatch { certificate } => {
                write!(f, "the key does not match the certificate in {}", certificate.display())
            }
            Problem::UnsupportedKey(e) => write!(f, "unsupported key type: {e}"),
            Problem::Config(e) => write!(f, "TLS configuration refused: {e}"),
        }
    }
}

impl std::error::Error for TlsError {}

/// The TLS configuration of the listeners and what a reload needs to rebuild it.
///
/// `reload` (SIGHUP) swaps in a new `ServerConfig` only when the files load; new
/// connections take `config()`, open ones keep the `Arc` they started with. The ticket
/// key and session cache survive a reload so that clients resume across it.
pub struct Settings {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub resumption: bool,
    /// ALPN offers `h2` before `http/1.1`.
    pub http2: bool,
    resume: Resume,
    current: Arc<ServerConfig>,
}

/// What lets a returning client skip the full handshake (shared across reloads).
#[derive(Clone)]
struct Resume {
    ticketer: Option<Arc<dyn ProducesTickets>>,
    storage: Arc<dyn StoresServerSessions>,
}

impl Resume {
    fn new(resumption: bool, path: &Path) -> Result<Resume, TlsError> {
        if !resumption {
            return Ok(Resume { ticketer: None, storage: Arc::new(NoServerSessionStorage {}) });
        }
        // A rotating ticket key: each key encrypts for 6 hours and decrypts for 12.
        let ticketer = aws_lc_rs::Ticketer::new()
            .map_err(|e| TlsError { path: path.to_owned(), problem: Problem::Config(e.to_string()) })?;
        Ok(Resume { ticketer: Some(ticketer), storage: ServerSessionMemoryCache::new(SESSION_CACHE_ENTRIES) })
    }
}

impl Settings {
    /// Loads the PEM chain in `cert_path` and the PEM key in `key_path` into a config.
    pub fn load(cert_path: &Path, key_path: &Path, resumption: bool) -> Result<Arc<ServerConfig>, TlsError> {
        let resume = Resume::new(resumption, key_path)?;
        build(cert_path, key_path, &resume, false)
    }

    /// Start-up: loads the files, keeping their paths for `reload`; HTTP/1.1 only.
    pub fn open(cert: &Path, key: &Path, resumption: bool) -> Result<Settings, TlsError> {
        Settings::open_with(cert, key, resumption, false)
    }

    /// `open`, offering HTTP/2 (`h2`) first when `http2`.
    pub fn open_with(cert: &Path, key: &Path, resumption: bool, http2: bool) -> Result<Settings, TlsError> {
        let resume = Resume::new(resumption, key)?;
        let current = build(cert, key, &resume, http2)?;
        Ok(Settings { cert: cert.to_owned(), key: key.to_owned(), resumption, http2, resume, current })
    }

    /// The config for connections accepted from now on.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.current
    }

    /// SIGHUP: reads the files again. On failure the old config stays in force.
    pub fn reload(&mut self) -> Result<(), TlsError> {
        let config = self.reload_plan().build()?;
        self.install(config);
        Ok(())
    }

    /// What a reload needs, taken out so that the files are read without holding whatever
    /// guards these settings (the loops take the config from them at accept).
    pub fn reload_plan(&self) -> Reload {
        Reload { cert: self.cert.clone(), key: self.key.clone(), resume: self.resume.clone(), http2: self.http2 }
    }

    /// Puts a config built by `Reload::build` in force.
    pub fn install(&mut self, config: Arc<ServerConfig>) {
        self.current = config;
    }
}

/// A reload to do: the files, the session resumption state to keep, the ALPN choice.
#[derive(Clone)]
pub struct Reload {
    pub cert: PathBuf,
    key: PathBuf,
    resume: Resume,
    http2: bool,
}

impl Reload {
    /// Reads the files and builds the config (may wait on the disk: not on the loop).
    pub fn build(&self) -> Result<Arc<ServerConfig>, TlsError> {
        build(&self.cert, &self.key, &self.resume, self.http2)
    }
}

fn build(cert_path: &Path, key_path: &Path, resume: &Resume, http2: bool) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = read_certs(cert_path)?;
    let key = read_key(key_path)?;
    let provider = Arc::new(provider());
    let certified = CertifiedKey::from_der(certs, key, &provider).map_err(|e| {
        let problem = match e {
            rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => {
                Problem::KeyMismatch { certificate: cert_path.to_owned() }
            }
            other => Problem::UnsupportedKey(other.to_string()),
        };
        TlsError { path: key_path.to_owned(), problem }
    })?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError { path: cert_path.to_owned(), problem: Problem::Config(e.to_string()) })?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    // HTTP/2 over TLS 1.2 needs an ephemeral key exchange and an AEAD suite (RFC 9113
    // section 9.2.2): every suite `provider` offers is one.
    config.alpn_protocols = match http2 {
        true => vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()],
        false => vec![ALPN_HTTP11.to_vec()],
    };
    config.max_early_data_size = 0;
    // After the handshake our record layer takes the traffic keys (`records`).
    config.enable_secret_extraction = true;
    // Our suite order (AES-128-GCM first: cheapest with AES-NI) over the client's.
    config.ignore_client_order = true;
    config.session_storage = resume.storage.clone();
    match &resume.ticketer {
        Some(ticketer) => config.ticketer = ticketer.clone(),
        None => config.send_tls13_tickets = 0,
    }
    Ok(Arc::new(config))
}

/// aws-lc-rs with the AEAD suites (rustls implements no others), fastest first.
fn provider() -> CryptoProvider {
    use aws_lc_rs::cipher_suite::*;
    CryptoProvider {
        cipher_suites: vec![
            TLS13_AES_128_GCM_SHA256,
            TLS13_AES_256_GCM_SHA384,
            TLS13_CHACHA20_POLY1305_SHA256,
            TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        ..aws_lc_rs::default_provider()
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| {
        let problem = if e.kind() == io::ErrorKind::NotFound { Problem::Missing } else { Problem::Unreadable(e) };
        TlsError { path: path.to_owned(), problem }
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_file(path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError { path: path.to_owned(), problem: Problem::BadPem(e.to_string()) })?;
    if certs.is_empty() {
        return Err(TlsError { path: path.to_owned(), problem: Problem::NoCertificate });
    }
    Ok(certs)
}

/// The first PKCS#8, SEC1 or PKCS#1 (RSA) key in the file.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read_file(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        let problem = match e {
            pem::Error::NoItemsFound => Problem::NoKey,
            other => Problem::BadPem(other.to_string()),
        };
        TlsError { path: path.to_owned(), problem }
    })
}
