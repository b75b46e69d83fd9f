//! The record layer after the handshake: application data sealed and opened in place with
//! the traffic keys rustls hands over (`dangerous_into_kernel_connection`, the kTLS hook).
//!
//! Why not let rustls go on: its `encrypt` takes the plaintext in one buffer and writes the
//! record into another, so every byte of a file body was copied once more before sealing,
//! and its per-connection state (a kilobyte and a half on top of the keys) stayed for the
//! life of an idle keep-alive connection. Here a file is read straight into the payload
//! area of its record and sealed where it lies, and an idle connection keeps only its keys,
//! sequence numbers and the small `KernelConnection` that derives TLS 1.3's next keys.
//!
//! What this layer owns, that rustls did before: sequence numbers (one per record, each
//! direction), nonces (the IV XOR the sequence number; TLS 1.2's AES-GCM also carries it
//! as the explicit nonce), the additional data (TLS 1.3: the record header; TLS 1.2: the
//! sequence number, type, version and length), TLS 1.3's inner content type and padding,
//! `close_notify` both ways, KeyUpdate from the peer (new receive keys; a KeyUpdate of our
//! own before the next record when the peer asks), a key update of our own before the
//! AEAD's confidentiality limit (TLS 1.2 has none: the connection ends there instead), and
//! the size limits. Anything else after the handshake (renegotiation, a stray
//! ChangeCipherSpec, an alert other than `close_notify`) ends the connection.
use std::ops::Range;

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use rustls::kernel::KernelConnection;
use rustls::server::ServerConnectionData;
use rustls::{ConnectionTrafficSecrets, Error, ExtractedSecrets, PeerMisbehaved, ProtocolVersion};

/// Bytes of a record header: type, version, length.
pub const HEADER: usize = 5;

/// Most plaintext in one record.
const MAX_PLAINTEXT: usize = 16 * 1024;

/// The AEAD tag after every record's ciphertext (all three AEADs).
const TAG: usize = 16;

/// TLS 1.2 AES-GCM's explicit nonce, sent before the ciphertext.
const EXPLICIT_NONCE: usize = 8;

/// Records sealed under one key before a key update (TLS 1.3) or the end of the connection
/// (TLS 1.2): below AES-GCM's confidentiality limit of 2^24.5 (RFC 8446, section 5.5); at
/// 16 KiB a record, 128 GiB.
pub const RECORDS_PER_KEY: u64 = 1 << 23;

/// Our KeyUpdate message: update_not_requested (the peer's keys are its own business).
const KEY_UPDATE: [u8; 5] = [24, 0, 0, 1, 0];

/// Content types (RFC 8446, section 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Alert = 21,
    Handshake = 22,
    ApplicationData = 23,
}

/// What one opened record holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// Application data at this range of the buffer given to `open` (maybe empty).
    Data(Range<usize>),
    /// The peer's `close_notify`.
    Closed,
    /// A record for the record layer itself (a KeyUpdate, a `user_canceled` warning).
    Control,
}

/// One direction's key, IV and sequence number.
struct Keys {
    key: LessSafeKey,
    iv: [u8; NONCE_LEN],
    seq: u64,
}

impl Keys {
    fn new((seq, secrets): (u64, ConnectionTrafficSecrets)) -> Result<Keys, Error> {
        let (algorithm, key, iv) = match &secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&AES_128_GCM, key, iv),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&AES_256_GCM, key, iv),
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => (&CHACHA20_POLY1305, key, iv),
            _ => return Err(Error::General("a cipher suite the record layer does not know".into())),
        };
        let key = UnboundKey::new(algorithm, key.as_ref()).map_err(|_| Error::General("bad traffic key".into()))?;
        let iv = iv.as_ref().try_into().map_err(|_| Error::General("bad traffic IV".into()))?;
        Ok(Keys { key: LessSafeKey::new(key), iv, seq })
    }

    /// The IV XOR the sequence number (RFC 8446, section 5.3; RFC 7905; rustls's TLS 1.2
    /// AES-GCM nonces too), then the number moves on.
    fn next_nonce(&mut self) -> [u8; NONCE_LEN] {
        let mut nonce = self.iv;
        for (byte, seq) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *byte ^= seq;
        }
        self.seq += 1;
        nonce
    }
}

/// TLS 1.2's additional data: sequence number, type, version, plaintext length.
fn tls12_aad(seq: u64, content: u8, len: usize) -> [u8; 13] {
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8] = content;
    aad[9..11].copy_from_slice(&[3, 3]);
    aad[11..].copy_from_slice(&(len as u16).to_be_bytes());
    aad
}

fn header(content: u8, len: usize) -> [u8; HEADER] {
    let len = u16::try_from(len).expect("a record is below 64 KiB").to_be_bytes();
    [content, 3, 3, len[0], len[1]]
}

fn misbehaved(why: PeerMisbehaved) -> Error {
    Error::PeerMisbehaved(why)
}

pub struct Records {
    kernel: KernelConnection<ServerConnectionData>,
    tls13: bool,
    /// TLS 1.2 with AES-GCM: records carry an explicit nonce.
    explicit_nonce: bool,
    tx: Keys,
    rx: Keys,
    /// The peer asked for a KeyUpdate: ours goes out before the next record.
    key_update_owed: bool,
    /// `RECORDS_PER_KEY` (lower only in tests, so that they reach it).
    records_per_key: u64,
}

impl Records {
    pub fn new(
        secrets: ExtractedSecrets,
        kernel: KernelConnection<ServerConnectionData>,
        records_per_key: u64,
    ) -> Result<Records, Error> {
        let tls13 = kernel.protocol_version() == ProtocolVersion::TLSv1_3;
        let explicit_nonce = !tls13 && !matches!(secrets.tx.1, ConnectionTrafficSecrets::Chacha20Poly1305 { .. });
        Ok(Records {
            kernel,
            tls13,
            explicit_nonce,
            tx: Keys::new(secrets.tx)?,
            rx: Keys::new(secrets.rx)?,
            key_update_owed: false,
            records_per_key,
        })
    }

    /// Bytes before a record's plaintext: the header, and TLS 1.2 AES-GCM's explicit nonce.
    pub fn prefix(&self) -> usize {
        HEADER + if self.explicit_nonce { EXPLICIT_NONCE } else { 0 }
    }

    /// Bytes of one record with `len` bytes of plaintext.
    pub fn wire_len(&self, len: usize) -> usize {
        self.prefix() + len + usize::from(self.tls13) + TAG
    }

    /// The next `seal` puts a KeyUpdate record of ours first.
    pub fn changes_keys(&self) -> bool {
        self.tls13 && (self.key_update_owed || self.tx.seq >= self.records_per_key)
    }

    /// Records that can be sealed before one puts a KeyUpdate first (at least 1).
    pub fn records_under_this_key(&self) -> u64 {
        match self.changes_keys() {
            true => 1,
            false => self.records_per_key.saturating_sub(self.tx.seq).max(1),
        }
    }

    /// Bytes the next `seal` of `len` plaintext bytes writes (a KeyUpdate's record too).
    pub fn sealed_len(&self, len: usize) -> usize {
        self.wire_len(len) + if self.changes_keys() { self.wire_len(KEY_UPDATE.len()) } else { 0 }
    }

    /// Seals the `len` plaintext bytes at `buf[prefix()..]` in place, with the header (and
    /// nonce) written before them and the content type and tag after; a KeyUpdate owed or
    /// due goes first (the plaintext moves up to make room). Returns the bytes of `buf`
    /// now holding records; `buf` must hold `sealed_len(len)`.
    pub fn seal(&mut self, buf: &mut [u8], len: usize, content: Content) -> Result<usize, Error> {
        debug_assert!(len <= MAX_PLAINTEXT && buf.len() >= self.sealed_len(len));
        if self.tx.seq >= self.records_per_key && !self.tls13 {
            return Err(Error::EncryptError); // TLS 1.2 cannot change keys: the connection ends.
        }
        if self.changes_keys() {
            // The KeyUpdate's record goes first; the plaintext moves up behind it.
            let prefix = self.prefix();
            let update = self.wire_len(KEY_UPDATE.len());
            buf.copy_within(prefix..prefix + len, update + prefix);
            buf[prefix..prefix + KEY_UPDATE.len()].copy_from_slice(&KEY_UPDATE);
            let sealed = self.seal_one(buf, KEY_UPDATE.len(), Content::Handshake)?;
            debug_assert_eq!(sealed, update);
            self.tx = Keys::new(self.kernel.update_tx_secret()?)?;
            self.key_update_owed = false;
            return Ok(sealed + self.seal_one(&mut buf[sealed..], len, content)?);
        }
        self.seal_one(buf, len, content)
    }

    fn seal_one(&mut self, buf: &mut [u8], len: usize, content: Content) -> Result<usize, Error> {
        let prefix = self.prefix();
        let seq = self.tx.seq;
        let nonce = self.tx.next_nonce();
        let (body, outer) = if self.tls13 {
            buf[prefix + len] = content as u8;
            (len + 1, Content::ApplicationData as u8)
        } else {
            (len, content as u8)
        };
        let record_len = prefix - HEADER + body + TAG;
        buf[..HEADER].copy_from_slice(&header(outer, record_len));
        if self.explicit_nonce {
            buf[HEADER..prefix].copy_from_slice(&nonce[4..]);
        }
        let (head, rest) = buf.split_at_mut(prefix);
        let sealed = if self.tls13 {
            self.tx.key.seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&head[..HEADER]),
                &mut rest[..body],
            )
        } else {
            let aad = tls12_aad(seq, content as u8, len);
            self.tx.key.seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut rest[..body],
            )
        };
        let tag = sealed.map_err(|_| Error::EncryptError)?;
        rest[body..body + TAG].copy_from_slice(tag.as_ref());
        Ok(HEADER + record_len)
    }

    /// The length of the whole record at the start of `buf`, once its header is in;
    /// an error for a length no record may have.
    pub fn record_len(&self, buf: &[u8]) -> Result<Option<usize>, Error> {
        let Some(header) = buf.first_chunk::<HEADER>() else { return Ok(None) };
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        // RFC 8446, section 5.2 (2^14 + 256); RFC 5246, section 6.2.3 (2^14 + 2048).
        let most = MAX_PLAINTEXT + if self.tls13 { 256 } else { 2048 };
        if len > most {
            return Err(Error::PeerSentOversizedRecord);
        }
        Ok(Some(HEADER + len))
    }

    /// Opens the whole record at the start of `buf` (`record_len` long) in place.
    pub fn open(&mut self, buf: &mut [u8]) -> Result<Opened, Error> {
        let outer = buf[0];
        let expected = if self.tls13 { Content::ApplicationData as u8 } else { outer };
        if outer != expected || !matches!(outer, 21 | 23) {
            return Err(Error::InappropriateMessage {
                expect_types: vec![rustls::ContentType::ApplicationData],
                got_type: rustls::ContentType::from(outer),
            });
        }
        let seq = self.rx.seq;
        let explicit = if self.explicit_nonce { EXPLICIT_NONCE } else { 0 };
        if buf.len() < HEADER + explicit + TAG {
            return Err(Error::DecryptError);
        }
        let mut nonce = self.rx.next_nonce();
        if self.explicit_nonce {
            nonce[4..].copy_from_slice(&buf[HEADER..HEADER + EXPLICIT_NONCE]);
        }
        let (head, body) = buf.split_at_mut(HEADER + explicit);
        let opened = if self.tls13 {
            self.rx.key.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(&head[..HEADER]), body)
        } else {
            let aad = tls12_aad(seq, outer, body.len() - TAG);
            self.rx.key.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), body)
        };
        let mut len = opened.map_err(|_| Error::DecryptError)?.len();
        let content = if self.tls13 {
            // The inner type is the last byte that is not padding.
            len = body[..len]
                .iter()
                .rposition(|&b| b != 0)
                .ok_or(misbehaved(PeerMisbehaved::IllegalTlsInnerPlaintext))?;
            body[len]
        } else {
            outer
        };
        if len > MAX_PLAINTEXT {
            return Err(Error::PeerSentOversizedRecord);
        }
        let start = HEADER + explicit;
        match content {
            23 => Ok(Opened::Data(start..start + len)),
            21 => self.alert(&body[..len]),
            22 if self.tls13 => self.handshake(&body[..len]),
            other => Err(Error::InappropriateMessage {
                expect_types: vec![rustls::ContentType::ApplicationData],
                got_type: rustls::ContentType::from(other),
            }),
        }
    }

    /// `close_notify` ends the peer's side; `user_canceled` is a warning that one follows.
    fn alert(&self, alert: &[u8]) -> Result<Opened, Error> {
        match alert {
            [_, 0] => Ok(Opened::Closed),
            [1, 90] => Ok(Opened::Control),
            [_, description] => Err(Error::AlertReceived(rustls::AlertDescription::from(*description))),
            _ => Err(misbehaved(PeerMisbehaved::IllegalTlsInnerPlaintext)),
        }
    }

    /// TLS 1.3 after the handshake: only KeyUpdate comes from a client (RFC 8446, 4.6.3).
    fn handshake(&mut self, mut messages: &[u8]) -> Result<Opened, Error> {
        if messages.is_empty() {
            return Err(misbehaved(PeerMisbehaved::IllegalTlsInnerPlaintext));
        }
        while let [kind, a, b, c, rest @ ..] = messages {
            let len = u32::from_be_bytes([0, *a, *b, *c]) as usize;
            if *kind != 24 {
                return Err(Error::InappropriateHandshakeMessage {
                    expect_types: vec![rustls::HandshakeType::KeyUpdate],
                    got_type: rustls::HandshakeType::from(*kind),
                });
            }
            if len != 1 || rest.is_empty() || rest[0] > 1 {
                return Err(Error::InvalidMessage(rustls::InvalidMessage::InvalidKeyUpdate));
            }
            // A KeyUpdate must end its record: the next record is under the new key.
            if rest.len() != 1 {
                return Err(misbehaved(PeerMisbehaved::KeyEpochWithPendingFragment));
            }
            self.key_update_owed |= rest[0] == 1;
            self.rx = Keys::new(self.kernel.update_rx_secret()?)?;
            messages = &rest[1..];
        }
        if !messages.is_empty() {
            return Err(misbehaved(PeerMisbehaved::KeyEpochWithPendingFragment));
        }
        Ok(Opened::Control)
    }
}
