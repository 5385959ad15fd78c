//! Sealed messages, in Rust: the text in base64 and its CRC-32, through the
//! `base64` and `checksum` imports (the C and C++ parts, when composed).

wit_bindgen::generate!({ path: "../wit", world: "sealer" });

use example::codec::{base64, checksum};
use exports::example::codec::seal::Guest;

struct Component;

impl Guest for Component {
    fn seal(text: String) -> String {
        format!(
            "{}.{:08x}",
            base64::encode(text.as_bytes()),
            checksum::crc32(text.as_bytes())
        )
    }

    fn open(sealed: String) -> Result<String, String> {
        let (body, crc) = sealed
            .rsplit_once('.')
            .ok_or("no `.` between the text and its checksum")?;
        let bytes = base64::decode(body)?;
        let expected = u32::from_str_radix(crc, 16)
            .map_err(|_| format!("`{crc}` is not a hexadecimal checksum"))?;
        let actual = checksum::crc32(&bytes);
        if actual != expected {
            return Err(format!(
                "the checksum is {crc}, but the text's is {actual:08x}"
            ));
        }
        String::from_utf8(bytes).map_err(|_| "the text is not UTF-8".to_string())
    }
}

export!(Component);
