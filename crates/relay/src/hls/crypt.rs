//! AES-128 segment decryption (RFC 8216 §4.3.2.4, §5.2): the whole segment is AES-128-CBC
//! with PKCS#7 padding, the key a 16-byte resource, the IV from the EXT-X-KEY tag or the
//! segment's media sequence number (the playlist parser resolves which).
//!
//! CBC is a few lines over the `aes` block cipher: each plaintext block is the decrypted
//! ciphertext block XOR the previous ciphertext block (the IV for the first). A wrong key
//! shows as bad padding (or, for the 1/256 of segments whose garbage ends in a valid pad,
//! as a transport stream without its sync byte: the reader checks that), never as a panic.

use aes::Aes128;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, KeyInit};
use baton_mpegts::SYNC_BYTE;
use bytes::Bytes;

/// Why a segment could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecryptError {
    /// Not a whole number of 16-byte blocks (or nothing at all).
    #[error("{0} bytes is not a whole number of AES blocks")]
    Length(usize),
    /// The last block does not end in PKCS#7 padding: the key or IV is wrong, or the bytes
    /// are corrupt.
    #[error("bad PKCS#7 padding after decryption (wrong key or IV?)")]
    Padding,
    /// A transport stream segment that does not start with its sync byte once decrypted: the
    /// key or IV is wrong, and the garbage happened to end in valid padding.
    #[error("no MPEG-TS sync byte after decryption (wrong key or IV?)")]
    NoSyncByte,
}

/// The key a key resource holds: exactly 16 bytes, else the number of bytes it has.
pub(crate) fn aes_key(data: &[u8]) -> Result<[u8; 16], KeyLength> {
    <[u8; 16]>::try_from(data).map_err(|_| KeyLength(data.len()))
}

/// A key resource that is not the 16 bytes of an AES-128 key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} bytes, not the 16 of an AES-128 key")]
pub(crate) struct KeyLength(pub(crate) usize);

/// Decrypts a segment with `key` and `iv` ([`decrypt`]); a transport stream (`ts`) must then
/// start with its sync byte, which catches the wrong keys whose garbage passes the padding
/// check.
pub(crate) fn decrypt_segment(
    key: &[u8; 16],
    iv: &[u8; 16],
    data: &[u8],
    ts: bool,
) -> Result<Bytes, DecryptError> {
    let plain = decrypt(key, iv, data)?;
    if ts && plain.first() != Some(&SYNC_BYTE) {
        return Err(DecryptError::NoSyncByte);
    }
    Ok(Bytes::from(plain))
}

/// Decrypts `data` (AES-128-CBC, PKCS#7) with `key` and `iv`.
fn decrypt(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Result<Vec<u8>, DecryptError> {
    if data.is_empty() || !data.len().is_multiple_of(16) {
        return Err(DecryptError::Length(data.len()));
    }
    let cipher = Aes128::new(GenericArray::from_slice(key));
    let mut out = data.to_vec();
    let mut previous = *iv;
    for block in out.chunks_exact_mut(16) {
        let mut ciphertext = [0u8; 16];
        ciphertext.copy_from_slice(block);
        cipher.decrypt_block(GenericArray::from_mut_slice(block));
        for (b, p) in block.iter_mut().zip(previous) {
            *b ^= p;
        }
        previous = ciphertext;
    }
    // data is non-empty, so out has a last byte.
    let pad = usize::from(out[out.len() - 1]);
    if !(1..=16).contains(&pad)
        || out[out.len() - pad..]
            .iter()
            .any(|&b| usize::from(b) != pad)
    {
        return Err(DecryptError::Padding);
    }
    out.truncate(out.len() - pad);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockEncrypt;

    /// AES-128-CBC with PKCS#7, as an HLS packager writes it.
    pub(crate) fn encrypt(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
        let cipher = Aes128::new(GenericArray::from_slice(key));
        let pad = 16 - data.len() % 16;
        let mut out = data.to_vec();
        out.extend(std::iter::repeat_n(pad as u8, pad));
        let mut previous = *iv;
        for block in out.chunks_exact_mut(16) {
            for (b, p) in block.iter_mut().zip(previous) {
                *b ^= p;
            }
            cipher.encrypt_block(GenericArray::from_mut_slice(block));
            previous.copy_from_slice(block);
        }
        out
    }

    #[test]
    fn the_nist_cbc_vector_decrypts() {
        // NIST SP 800-38A F.2.2 (CBC-AES128.Decrypt), first two blocks.
        let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
        let iv = hex("000102030405060708090a0b0c0d0e0f");
        let plain = [
            hex("6bc1bee22e409f96e93d7e117393172a"),
            hex("ae2d8a571e03ac9c9eb76fac45af8e51"),
        ]
        .concat();
        let sealed = encrypt(&key, &iv, &plain);
        assert_eq!(sealed[..16], hex("7649abac8119b246cee98e9b12e9197d"));
        assert_eq!(sealed[16..32], hex("5086cb9b507219ee95db113a917678b2"));
        assert_eq!(decrypt(&key, &iv, &sealed).unwrap(), plain);
    }

    #[test]
    fn wrong_keys_and_bad_lengths_are_named() {
        let key = [7u8; 16];
        let iv = [9u8; 16];
        for len in [0, 1, 15, 16, 17, 188 * 7] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let sealed = encrypt(&key, &iv, &data);
            assert_eq!(decrypt(&key, &iv, &sealed).unwrap(), data);
            let mut other = key;
            other[0] ^= 1;
            // A wrong key fails the padding check (or, rarely, yields garbage).
            if let Ok(garbage) = decrypt(&other, &iv, &sealed) {
                assert_ne!(garbage, data);
            }
        }
        assert_eq!(decrypt(&key, &iv, &[]), Err(DecryptError::Length(0)));
        assert_eq!(decrypt(&key, &iv, &[0; 20]), Err(DecryptError::Length(20)));
        let mut sealed = encrypt(&key, &iv, b"hello");
        sealed[15] ^= 0xff;
        assert_eq!(decrypt(&key, &iv, &sealed), Err(DecryptError::Padding));
    }

    #[test]
    fn a_transport_stream_must_start_with_its_sync_byte() {
        let key = [7u8; 16];
        let iv = [9u8; 16];
        let sealed = encrypt(&key, &iv, b"not a transport stream");
        assert_eq!(
            decrypt_segment(&key, &iv, &sealed, true),
            Err(DecryptError::NoSyncByte)
        );
        assert!(decrypt_segment(&key, &iv, &sealed, false).is_ok());
        let ts = encrypt(&key, &iv, &[SYNC_BYTE, 0, 0]);
        assert_eq!(
            &decrypt_segment(&key, &iv, &ts, true).unwrap()[..],
            &[SYNC_BYTE, 0, 0]
        );
        assert_eq!(aes_key(&[1; 16]), Ok([1; 16]));
        assert_eq!(aes_key(&[1; 17]), Err(KeyLength(17)));
    }

    fn hex(s: &str) -> [u8; 16] {
        let mut out = [0u8; 16];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }
}
