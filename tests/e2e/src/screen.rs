//! What the X server shows: Xvfb keeps its screen in a file (`-fbdir`, in XWD format), which
//! `scripts/e2e.sh` names in `E2E_FRAMEBUFFER`. Unlike a WebDriver screenshot, which WebKit's
//! web process paints for the asking, this is what the window itself put on the display.

use std::path::PathBuf;

/// The environment variable naming Xvfb's screen file.
pub const FRAMEBUFFER_ENV: &str = "E2E_FRAMEBUFFER";

/// Why bytes are not a screen this module can read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum XwdError {
    #[error("the XWD header is cut short")]
    HeaderCutShort,
    #[error("not a 32-bit ZPixmap (format {format}, {bits_per_pixel} bits a pixel)")]
    NotZPixmap32 {
        format: usize,
        bits_per_pixel: usize,
    },
    #[error("the XWD image is cut short at line {line}")]
    ImageCutShort { line: usize },
}

/// One picture of the screen, as 0xRRGGBB pixels.
#[derive(Debug)]
pub struct Screen {
    pub width: usize,
    pub height: usize,
    pixels: Vec<u32>,
}

impl Screen {
    /// The screen now, from the file `E2E_FRAMEBUFFER` names.
    pub fn capture() -> Screen {
        let path = std::env::var_os(FRAMEBUFFER_ENV).map(PathBuf::from).expect(
            "E2E_FRAMEBUFFER names Xvfb's screen file: run the window tests with scripts/e2e.sh",
        );
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|error| panic!("Xvfb's screen file {}: {error}", path.display()));
        Screen::from_xwd(&bytes).unwrap_or_else(|why| panic!("{}: {why}", path.display()))
    }

    /// Decodes an XWD image of 32 bits a pixel (the ZPixmap Xvfb writes at depth 24).
    pub fn from_xwd(bytes: &[u8]) -> Result<Screen, XwdError> {
        let field = |index: usize| -> Result<usize, XwdError> {
            let at = index * 4;
            let word = bytes.get(at..at + 4).ok_or(XwdError::HeaderCutShort)?;
            Ok(u32::from_be_bytes([word[0], word[1], word[2], word[3]]) as usize)
        };
        let (header_size, format, width, height) = (field(0)?, field(2)?, field(4)?, field(5)?);
        let (byte_order, bits_per_pixel, bytes_per_line) = (field(7)?, field(11)?, field(12)?);
        let masks = [field(14)? as u32, field(15)? as u32, field(16)? as u32];
        let colormap_entries = field(19)?;
        if format != 2 || bits_per_pixel != 32 {
            return Err(XwdError::NotZPixmap32 {
                format,
                bits_per_pixel,
            });
        }
        let start = header_size + colormap_entries * 12;
        let mut pixels = Vec::with_capacity(width * height);
        for y in 0..height {
            let line = start + y * bytes_per_line;
            let row = bytes
                .get(line..line + width * 4)
                .ok_or(XwdError::ImageCutShort { line: y })?;
            for p in row.chunks_exact(4) {
                let word = [p[0], p[1], p[2], p[3]];
                // byte_order 0 is LSBFirst.
                let value = if byte_order == 0 {
                    u32::from_le_bytes(word)
                } else {
                    u32::from_be_bytes(word)
                };
                let channel = |mask: u32| (value & mask) >> mask.trailing_zeros();
                pixels.push(channel(masks[0]) << 16 | channel(masks[1]) << 8 | channel(masks[2]));
            }
        }
        Ok(Screen {
            width,
            height,
            pixels,
        })
    }

    /// How many pixels are exactly `rgb` (0xRRGGBB).
    pub fn count(&self, rgb: u32) -> usize {
        self.pixels.iter().filter(|&&p| p == rgb).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2×1 XWD image as Xvfb writes it (LSBFirst, masks ff0000/ff00/ff), no colormap.
    fn xwd(pixels: [u32; 2]) -> Vec<u8> {
        let mut header = [0u32; 25];
        header[0] = 100; // header size, no window name
        header[2] = 2; // ZPixmap
        header[3] = 24;
        header[4] = 2;
        header[5] = 1;
        header[11] = 32;
        header[12] = 8;
        header[14] = 0xff0000;
        header[15] = 0xff00;
        header[16] = 0xff;
        let mut bytes: Vec<u8> = header.iter().flat_map(|w| w.to_be_bytes()).collect();
        bytes.extend(pixels.iter().flat_map(|p| p.to_le_bytes()));
        bytes
    }

    #[test]
    fn decodes_the_pixels_xvfb_writes() {
        let screen = Screen::from_xwd(&xwd([0x00ff00ff, 0x00123456])).expect("a screen");
        assert_eq!((screen.width, screen.height), (2, 1));
        assert_eq!(screen.count(0xff00ff), 1);
        assert_eq!(screen.count(0x123456), 1);
        assert_eq!(screen.count(0x000000), 0);
    }

    #[test]
    fn a_cut_short_image_is_an_error_not_a_blank_screen() {
        let bytes = xwd([0, 0]);
        assert_eq!(
            Screen::from_xwd(&bytes[..bytes.len() - 1]).unwrap_err(),
            XwdError::ImageCutShort { line: 0 }
        );
        assert_eq!(
            Screen::from_xwd(&bytes[..40]).unwrap_err(),
            XwdError::HeaderCutShort
        );
    }
}
