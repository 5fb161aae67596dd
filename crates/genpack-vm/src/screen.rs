//! The guest's screen read over QEMU's VNC server with `vnc-rs`: screenshots for
//! `genpack vm screenshot`, the studio's thumbnails and the tests, and key presses typed into
//! the guest.
//!
//! The client joins as a shared viewer, so a viewer already connected (the studio's noVNC)
//! stays connected.

use std::future::Ready;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::UnixStream;
use vnc::{
    PixelFormat, Rect, VncClient, VncConnector, VncEncoding, VncError as RfbError, VncEvent,
};

use crate::error::{Result, VmError};

/// How long reading one whole screen may take.
pub const CAPTURE_TIMEOUT: Duration = Duration::from_secs(20);

/// One frame of the guest's screen, 8-bit RGB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screenshot {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` pixels, three bytes (red, green, blue) each, row by row.
    pub rgb: Vec<u8>,
}

impl Screenshot {
    /// The frame as a PNG file.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut png = Vec::new();
        let mut encoder = png::Encoder::new(&mut png, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let fail = |e: png::EncodingError| VmError::Screen {
            socket: Default::default(),
            reason: format!("cannot encode the screenshot as PNG: {e}"),
        };
        let mut writer = encoder.write_header().map_err(fail)?;
        writer.write_image_data(&self.rgb).map_err(fail)?;
        writer.finish().map_err(fail)?;
        Ok(png)
    }

    /// The RGB value of the pixel at (`x`, `y`).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let at = ((y * self.width + x) * 3) as usize;
        [self.rgb[at], self.rgb[at + 1], self.rgb[at + 2]]
    }
}

/// A VNC session with a VM's screen.
pub struct ScreenSession {
    socket: PathBuf,
    client: VncClient,
}

impl ScreenSession {
    /// Connects to the VNC socket of a VM as a shared viewer.
    pub async fn connect(socket: &Path) -> Result<Self> {
        let fail = |reason: String| VmError::Screen {
            socket: socket.to_path_buf(),
            reason,
        };
        let stream = UnixStream::connect(socket)
            .await
            .map_err(|e| fail(format!("cannot connect: {e}")))?;
        let connect = async {
            VncConnector::<_, Ready<std::result::Result<String, RfbError>>>::new(stream)
                .allow_shared(true)
                .set_pixel_format(PixelFormat::rgba())
                .add_encoding(VncEncoding::Zrle)
                .add_encoding(VncEncoding::CopyRect)
                .add_encoding(VncEncoding::Raw)
                .add_encoding(VncEncoding::DesktopSizePseudo)
                .add_encoding(VncEncoding::ExtendedDesktopSizePseudo)
                .build()?
                .try_start()
                .await?
                .finish()
        };
        let client = tokio::time::timeout(CAPTURE_TIMEOUT, connect)
            .await
            .map_err(|_| fail("no answer from the VNC server".into()))?
            .map_err(|e| fail(e.to_string()))?;
        Ok(ScreenSession {
            socket: socket.to_path_buf(),
            client,
        })
    }

    /// Reads one whole frame (the server is asked for every pixel).
    pub async fn capture(&self) -> Result<Screenshot> {
        let mut frame = Frame::default();
        self.client
            .input(vnc::X11Event::FullRefresh)
            .await
            .map_err(|e| self.fail(e))?;
        let read = async {
            while !frame.complete() {
                let event = self.client.recv_event().await?;
                frame.apply(event)?;
            }
            Ok::<_, RfbError>(())
        };
        tokio::time::timeout(CAPTURE_TIMEOUT, read)
            .await
            .map_err(|_| VmError::Timeout {
                what: "a whole frame of the VM's screen".into(),
                seconds: CAPTURE_TIMEOUT.as_secs(),
            })?
            .map_err(|e| self.fail(e))?;
        Ok(frame.into_screenshot())
    }

    /// Types `text` as key presses (US keyboard layout): printable ASCII, `\n` as Return and
    /// `\t` as Tab. Whether the keys reach the guest depends on its keyboard driver (see
    /// [`crate::InputDevices`]).
    pub async fn type_text(&self, text: &str) -> Result<()> {
        for press in key_presses(text)? {
            if press.shift {
                self.key(KEYSYM_SHIFT_L, true).await?;
            }
            self.key(press.keysym, true).await?;
            self.key(press.keysym, false).await?;
            if press.shift {
                self.key(KEYSYM_SHIFT_L, false).await?;
            }
            // QEMU queues key events for the guest; a short pause keeps them in order under
            // emulation.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Puts `text` in the viewer's clipboard, as noVNC does for the studio: it reaches the
    /// guest's clipboard when the VM has a clipboard channel and the guest runs spice-vdagent
    /// (`VmState::clipboard`). Plain RFB carries Latin-1 text only.
    pub async fn send_clipboard(&self, text: &str) -> Result<()> {
        if !text.chars().all(|c| u32::from(c) <= 0xff) {
            return Err(VmError::InvalidSpec(
                "only Latin-1 text can be sent as the viewer's clipboard".into(),
            ));
        }
        self.client
            .input(vnc::X11Event::CopyText(text.to_string()))
            .await
            .map_err(|e| self.fail(e))
    }

    /// Asks for a screen of `width` x `height` pixels, as a viewer whose window changed size
    /// does (noVNC's "resize session"). QEMU passes the size to the guest's display device
    /// (virtio-vga offers it as the preferred mode); the screen changes once the guest's
    /// desktop switches to that mode. Events are read while waiting for QEMU's answer.
    pub async fn request_size(&self, width: u16, height: u16) -> Result<()> {
        let fail = |reason: String| VmError::Screen {
            socket: self.socket.clone(),
            reason,
        };
        // The server says it can resize with the first frame; events must keep flowing while
        // QEMU answers.
        let announced = async {
            while self.client.desktop_layout().is_none() {
                self.client.recv_event().await?;
            }
            Ok::<_, RfbError>(())
        };
        tokio::time::timeout(CAPTURE_TIMEOUT, announced)
            .await
            .map_err(|_| fail("the VNC server does not offer resizing".into()))?
            .map_err(|e| self.fail(e))?;
        let drain = async { while self.client.recv_event().await.is_ok() {} };
        tokio::select! {
            result = self.client.resize_desktop(width, height) => match result {
                // QEMU answers "forwarded": the size went to the guest's display device, and
                // the guest decides (vnc-rs calls that outcome uncertain).
                Ok(_) | Err(vnc::ResizeError::Uncertain) => Ok(()),
                Err(e) => Err(fail(format!("resize to {width}x{height}: {e}"))),
            },
            () = drain => Err(fail("the VNC connection closed".into())),
        }
    }

    async fn key(&self, keysym: u32, down: bool) -> Result<()> {
        self.client
            .input(vnc::X11Event::KeyEvent((keysym, down).into()))
            .await
            .map_err(|e| self.fail(e))
    }

    fn fail(&self, error: RfbError) -> VmError {
        VmError::Screen {
            socket: self.socket.clone(),
            reason: error.to_string(),
        }
    }
}

impl Drop for ScreenSession {
    fn drop(&mut self) {
        let client = self.client.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = client.close().await;
            });
        }
    }
}

/// Reads one whole frame of the screen behind `socket`.
pub async fn capture(socket: &Path) -> Result<Screenshot> {
    ScreenSession::connect(socket).await?.capture().await
}

const KEYSYM_SHIFT_L: u32 = 0xffe1;
const KEYSYM_RETURN: u32 = 0xff0d;
const KEYSYM_TAB: u32 = 0xff09;
/// Characters typed with Shift on a US keyboard (QEMU maps keysyms to keys without Shift).
const SHIFTED: &str = "~!@#$%^&*()_+{}|:\"<>?";

struct KeyPress {
    keysym: u32,
    shift: bool,
}

/// The key presses that type `text` on a US keyboard.
fn key_presses(text: &str) -> Result<Vec<KeyPress>> {
    text.chars()
        .filter(|&c| c != '\r')
        .map(|c| match c {
            '\n' => Ok(KeyPress {
                keysym: KEYSYM_RETURN,
                shift: false,
            }),
            '\t' => Ok(KeyPress {
                keysym: KEYSYM_TAB,
                shift: false,
            }),
            ' '..='~' => Ok(KeyPress {
                keysym: c as u32,
                shift: c.is_ascii_uppercase() || SHIFTED.contains(c),
            }),
            other => Err(VmError::InvalidSpec(format!(
                "{other:?} cannot be typed: only ASCII text can be typed on the screen"
            ))),
        })
        .collect()
}

/// A frame being assembled from the rectangles the server sends.
#[derive(Default)]
struct Frame {
    width: usize,
    height: usize,
    rgba: Vec<u8>,
    painted: Vec<bool>,
    unpainted: usize,
}

impl Frame {
    fn resize(&mut self, width: u16, height: u16) {
        self.width = width.into();
        self.height = height.into();
        let pixels = self.width * self.height;
        self.rgba = vec![0; pixels * 4];
        self.painted = vec![false; pixels];
        self.unpainted = pixels;
    }

    fn complete(&self) -> bool {
        self.width > 0 && self.unpainted == 0
    }

    fn apply(&mut self, event: VncEvent) -> std::result::Result<(), RfbError> {
        match event {
            VncEvent::SetResolution(screen) => self.resize(screen.width, screen.height),
            VncEvent::DesktopUpdate(update) => {
                if let Some(layout) = update.layout {
                    if (usize::from(layout.width), usize::from(layout.height))
                        != (self.width, self.height)
                    {
                        self.resize(layout.width, layout.height);
                    }
                }
            }
            VncEvent::RawImage(rect, data) => self.paint(rect, &data)?,
            VncEvent::Copy(dst, src) => {
                let mut data =
                    Vec::with_capacity(usize::from(src.width) * usize::from(src.height) * 4);
                for row in 0..usize::from(src.height) {
                    let start = self.offset(src.x.into(), usize::from(src.y) + row)?;
                    data.extend_from_slice(&self.rgba[start..start + usize::from(src.width) * 4]);
                }
                self.paint(dst, &data)?;
            }
            VncEvent::Error(message) => return Err(RfbError::General(message)),
            _ => {}
        }
        Ok(())
    }

    fn offset(&self, x: usize, y: usize) -> std::result::Result<usize, RfbError> {
        if x > self.width || y >= self.height {
            return Err(RfbError::InvalidImageData);
        }
        Ok((y * self.width + x) * 4)
    }

    fn paint(&mut self, rect: Rect, data: &[u8]) -> std::result::Result<(), RfbError> {
        let (x, y) = (usize::from(rect.x), usize::from(rect.y));
        let (width, height) = (usize::from(rect.width), usize::from(rect.height));
        if x + width > self.width || y + height > self.height || data.len() < width * height * 4 {
            return Err(RfbError::InvalidImageData);
        }
        for row in 0..height {
            let start = self.offset(x, y + row)?;
            let source = &data[row * width * 4..(row + 1) * width * 4];
            self.rgba[start..start + width * 4].copy_from_slice(source);
            let first = (y + row) * self.width + x;
            for painted in &mut self.painted[first..first + width] {
                if !*painted {
                    *painted = true;
                    self.unpainted -= 1;
                }
            }
        }
        Ok(())
    }

    fn into_screenshot(self) -> Screenshot {
        let rgb = self
            .rgba
            .chunks_exact(4)
            .flat_map(|px| [px[0], px[1], px[2]])
            .collect();
        Screenshot {
            width: self.width as u32,
            height: self.height as u32,
            rgb,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x: u16, y: u16, width: u16, height: u16) -> Rect {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    #[test]
    fn a_frame_is_complete_once_every_pixel_is_painted() {
        let mut frame = Frame::default();
        assert!(!frame.complete());
        frame.apply(VncEvent::SetResolution((4, 2).into())).unwrap();
        let red = [255, 0, 0, 0].repeat(8);
        frame
            .apply(VncEvent::RawImage(rect(0, 0, 2, 2), red[..16].to_vec()))
            .unwrap();
        assert!(!frame.complete());
        // The right half is a copy of the left half.
        frame
            .apply(VncEvent::Copy(rect(2, 0, 2, 2), rect(0, 0, 2, 2)))
            .unwrap();
        assert!(frame.complete());
        let shot = frame.into_screenshot();
        assert_eq!(shot.pixel(3, 1), [255, 0, 0]);
        let png = shot.to_png().unwrap();
        assert!(png.starts_with(b"\x89PNG"));
    }

    #[test]
    fn text_becomes_key_presses_with_shift_where_a_us_keyboard_needs_it() {
        let presses = key_presses("a$B\r\n").unwrap();
        let keys: Vec<(u32, bool)> = presses.iter().map(|p| (p.keysym, p.shift)).collect();
        assert_eq!(
            keys,
            [
                ('a' as u32, false),
                ('$' as u32, true),
                ('B' as u32, true),
                (KEYSYM_RETURN, false)
            ]
        );
        assert!(key_presses("é").is_err());
    }

    #[test]
    fn rectangles_outside_the_screen_are_refused() {
        let mut frame = Frame::default();
        frame.apply(VncEvent::SetResolution((2, 2).into())).unwrap();
        assert!(frame
            .apply(VncEvent::RawImage(rect(1, 1, 2, 2), vec![0; 16]))
            .is_err());
    }
}
